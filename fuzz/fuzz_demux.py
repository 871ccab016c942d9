"""atheris harness for the demux target (targets.make_demux).

Run: python fuzz/fuzz_demux.py [libFuzzer flags], or all of them: python fuzz/run.py.
"""

import atheris

with atheris.instrument_imports(include=["trio_webrtc"]):
    import targets

if __name__ == "__main__":
    targets.main("demux")
