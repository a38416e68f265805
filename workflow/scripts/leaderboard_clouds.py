"""The jets leaderboard: classes and families in JetNet's columns (genhep.clouds.leaderboard)."""

from genhep.cli import main
from genhep.clouds.leaderboard import STAGE

if __name__ == "__main__":
    main(STAGE)
