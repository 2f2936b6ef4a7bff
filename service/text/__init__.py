"""Text handling without torch: splitting and re-joining articles, IndicTrans2 pre/post-processing, input checks."""
