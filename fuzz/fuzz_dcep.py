"""atheris harness for the dcep target (targets.make_dcep).

Run: python fuzz/fuzz_dcep.py [libFuzzer flags], or all of them: python fuzz/run.py.
"""

import atheris

with atheris.instrument_imports(include=["trio_webrtc"]):
    import targets

if __name__ == "__main__":
    targets.main("dcep")
