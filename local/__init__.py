"""Running Écluse on one machine: the local stack (`make run`) and the template-derived resources tests use.

Kept out of layers/ so nothing here (moto, the SAM translator) ever ships to Lambda.
"""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "ecluse")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
