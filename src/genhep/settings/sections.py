"""{dotted config section: its settings class}: the config schema's properties of each
section come from its class (``genhep.config.load_schema``); the train overrides of
``families.*`` and ``cathode.density``, which take no defaults, are added there too."""

from genhep.settings import amplification, cathode, clouds, data, evaluation
from genhep.settings.training import TrainSettings

SECTIONS: dict[str, type] = {
    "train": TrainSettings,
    **data.SECTIONS,
    **evaluation.SECTIONS,
    **amplification.SECTIONS,
    **cathode.SECTIONS,
    **clouds.SECTIONS,
}
