"""Submission portal: the HTTP contract (``openapi.yaml``), a reference server for tests and
demos (:mod:`pipelines.portal.server`) and the resilient client the pipeline pulls with."""

from pipelines.portal.client import PortalAuthError, PortalClient, PortalError, PortalUnavailableError

__all__ = ["PortalAuthError", "PortalClient", "PortalError", "PortalUnavailableError"]
