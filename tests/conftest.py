"""Suite-wide configuration: the shared test helpers on ``sys.path``.

The suite mirrors the package (``tests/sdp``, ``tests/ice``, ``tests/dtls``, ``tests/sctp``,
``tests/datachannel``, ``tests/core``, ``tests/godot``; the Trio face at the top). Helper
modules live beside the layer they serve and are imported by bare name (``sctp_helpers``,
``ice_helpers``, ``stun_server``, ``fake_sctp``; two tests borrow fixtures from
``test_dtls`` and ``test_godot_face``), from any folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _folder in ("sctp", "ice", "datachannel", "dtls", "godot"):
    if str(_HERE / _folder) not in sys.path:
        sys.path.insert(0, str(_HERE / _folder))
