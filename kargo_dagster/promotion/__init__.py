"""Promotions: Kargo's step engine and its built-in steps (pure: never imports dagster).

* :mod:`~kargo_dagster.promotion.expansion` turns a Stage's template into the steps to run,
  PromotionTasks inflated in place;
* :mod:`~kargo_dagster.promotion.engine` runs them (``run_promotion``) with Kargo's rules
  for ``if``, ``continueOnError``, retries and timeouts;
* :mod:`~kargo_dagster.promotion.variables` builds what expressions see;
* :mod:`~kargo_dagster.promotion.schema_validation` checks configs against Kargo's schemas;
* :mod:`~kargo_dagster.promotion.registry` says which step kinds exist;
* :mod:`~kargo_dagster.promotion.results` records how the promotion went;
* :mod:`~kargo_dagster.promotion.step` is the interface every step in
  :mod:`~kargo_dagster.promotion.steps` implements.

Nothing is imported here, so importing a step module does not load the engine.
"""
