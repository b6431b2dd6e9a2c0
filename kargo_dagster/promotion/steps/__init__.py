"""The built-in promotion steps, one module per step."""
