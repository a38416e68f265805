"""Collect every family's metrics into the leaderboard, and plot the families side by
side (genhep.report.run)."""

from genhep.cli import main
from genhep.report import STAGE

if __name__ == "__main__":
    main(STAGE)
