"""atheris harness for the stun target (targets.make_stun).

Run: python fuzz/fuzz_stun.py [libFuzzer flags], or all of them: python fuzz/run.py.
"""

import atheris

with atheris.instrument_imports(include=["trio_webrtc"]):
    import targets

if __name__ == "__main__":
    targets.main("stun")
