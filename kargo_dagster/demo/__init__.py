"""The demo: ``kargo-dagster demo`` runs the example pipeline against a local world.

Its services (:mod:`~kargo_dagster.demo.services`: a registry, a GitOps repository, a
simulated Argo CD and a stand-in guestbook) are built from the fakes in
:mod:`kargo_dagster.testing`; :mod:`~kargo_dagster.demo.run` starts them with the Dagster
webserver and daemon. The product never imports it: the command line's ``demo`` command loads
it when run, so a pipeline loads neither the demo nor the fakes.
"""
