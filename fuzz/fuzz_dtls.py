"""atheris harness for the dtls target (targets.make_dtls).

Run: python fuzz/fuzz_dtls.py [libFuzzer flags], or all of them: python fuzz/run.py.
"""

import atheris

with atheris.instrument_imports(include=["trio_webrtc"]):
    import targets

if __name__ == "__main__":
    targets.main("dtls")
