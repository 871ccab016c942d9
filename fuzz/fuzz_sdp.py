"""atheris harness for the sdp target (targets.make_sdp).

Run: python fuzz/fuzz_sdp.py [libFuzzer flags], or all of them: python fuzz/run.py.
"""

import atheris

with atheris.instrument_imports(include=["trio_webrtc"]):
    import targets

if __name__ == "__main__":
    targets.main("sdp")
