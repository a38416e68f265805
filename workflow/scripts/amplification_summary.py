"""Summarise the amplification study: a table (CSV and Markdown) and the quantile-MSE
figure, as Fig. 2 of arXiv 2008.06545 (genhep.amplification.report.run)."""

from genhep.amplification.report import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
