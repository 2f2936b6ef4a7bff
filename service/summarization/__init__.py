"""mT5 summaries of Hindi articles."""

from .summarizer import Summarizer, SummaryTokenizer, load_summarizer

__all__ = ["Summarizer", "SummaryTokenizer", "load_summarizer"]
