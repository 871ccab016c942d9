"""atheris harness for the candidate target (targets.make_candidate).

Run: python fuzz/fuzz_candidate.py [libFuzzer flags], or all of them: python fuzz/run.py.
"""

import atheris

with atheris.instrument_imports(include=["trio_webrtc"]):
    import targets

if __name__ == "__main__":
    targets.main("candidate")
