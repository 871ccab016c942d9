"""Capture Chromium's audio+video+data offer, and its answer to a trio_webrtc offer.

Run inside a loopback-only namespace (``unshare --net``, ``ip link set lo up``)::

    python tests/sdp/media_vectors/capture_chromium.py

Writes ``chromium-media-offer.sdp`` and ``chromium-media-answer.sdp`` beside itself
(candidates stripped).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import trio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "browser"))
sys.path.insert(0, str(HERE.parents[2]))

import cdp  # noqa: E402

from trio_webrtc.core import PeerConnectionCore  # noqa: E402
from trio_webrtc.sdp.media import TransceiverRequest  # noqa: E402

FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

OFFER_JS = """(async () => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.pc = pc;
  let stream = null;
  try { stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true}); }
  catch (e) { console.log('gum failed ' + e); }
  if (stream) { for (const t of stream.getTracks()) pc.addTrack(t, stream); }
  else { pc.addTransceiver('audio'); pc.addTransceiver('video'); }
  pc.createDataChannel('echo');
  const offer = await pc.createOffer();
  return JSON.stringify({sdp: offer.sdp, gum: !!stream});
})()"""

ANSWER_JS = """(async (sdp) => {
  const pc = new RTCPeerConnection({iceServers: []});
  let stream = null;
  try { stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true}); }
  catch (e) { console.log('gum failed ' + e); }
  await pc.setRemoteDescription({type: 'offer', sdp});
  for (const tr of pc.getTransceivers()) tr.direction = 'sendrecv';
  if (stream) {
    const ts = pc.getTransceivers();
    for (const t of stream.getTracks()) {
      const tr = ts.find(x => x.receiver.track.kind === t.kind);
      await tr.sender.replaceTrack(t); tr.direction = 'sendrecv';
    }
  }
  const answer = await pc.createAnswer();
  return answer.sdp;
})"""


def strip(sdp: str) -> str:
    return "".join(line + "\r\n" for line in sdp.splitlines() if not line.startswith("a=candidate"))


async def main() -> None:
    async with cdp.launch_chromium(FLAGS) as browser, browser.new_page(grant_media=True) as page:
        result = json.loads(await page.evaluate(OFFER_JS, await_promise=True))
        print("getUserMedia worked:", result["gum"])
        (HERE / "chromium-media-offer.sdp").write_text(strip(result["sdp"]), newline="")
        core = PeerConnectionCore()
        core.add_transceiver(TransceiverRequest("audio"))
        core.add_transceiver(TransceiverRequest("video"))
        offer = core.create_offer()
        answer = await page.evaluate(f"({ANSWER_JS})({json.dumps(offer)})", await_promise=True)
        (HERE / "trio-media-offer.sdp").write_text(offer, newline="")
        (HERE / "chromium-media-answer.sdp").write_text(strip(answer), newline="")


if __name__ == "__main__":
    ok, reason = cdp.loopback_only()
    if not ok:
        sys.exit(f"refusing to run: {reason}")
    trio.run(main)
