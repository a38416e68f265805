"""LaCATHODE: the point's events in the SB density model's latent space, and the latent
template (genhep.cathode.stage_latent.run)."""

from genhep.cathode.stage_latent import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
