"""Webhook receivers as Kargo serves them: signatures, payloads, receiver URLs, targets.

Each provider module checks one kind of sender's signature or token and reads its payload
into what should be refreshed (:class:`~kargo_dagster.webhooks.inbound.RefreshRequest`); the
subscription index finds the Warehouses subscribed to the pushed repository. Serving the
receivers over HTTP and running discovery is ``kargo_dagster.defs.webhook_receiver``'s job;
this package never imports Dagster.
"""
