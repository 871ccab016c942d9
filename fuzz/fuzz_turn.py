"""atheris harness for the turn target (targets.make_turn).

Run: python fuzz/fuzz_turn.py [libFuzzer flags], or all of them: python fuzz/run.py.
"""

import atheris

with atheris.instrument_imports(include=["trio_webrtc"]):
    import targets

if __name__ == "__main__":
    targets.main("turn")
