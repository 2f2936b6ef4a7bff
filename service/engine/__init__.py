"""The batching engine: schedulers that pool work from every request in flight, and device/dtype choices."""

from .scheduler import BatchScheduler

__all__ = ["BatchScheduler"]
