"""atheris harness for the sctp target (targets.make_sctp).

Run: python fuzz/fuzz_sctp.py [libFuzzer flags], or all of them: python fuzz/run.py.
"""

import atheris

with atheris.instrument_imports(include=["trio_webrtc"]):
    import targets

if __name__ == "__main__":
    targets.main("sctp")
