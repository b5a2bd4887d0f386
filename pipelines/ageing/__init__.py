"""Stock ageing (DOMAIN.md "Stock ageing"), from slice residencies by event deltas."""

from pipelines.ageing.ageing import ageing_changes, ageing_on, bucket_labels

__all__ = ["ageing_changes", "ageing_on", "bucket_labels"]
