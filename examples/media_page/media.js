// The browser half of examples/media_record.py and examples/media_send_file.py.
//
// The page offers (non-trickle: it waits for ICE gathering, so the offer carries its
// candidates), POSTs the offer to /offer on the server that served it, and applies the
// answer it gets back. ?mode=record sends the camera (getUserMedia) to the Python peer;
// ?mode=play receives the Python peer's video and plays it. Both open a data channel
// "status" (trio_webrtc's answers need one beside the media) on which the Python peer
// reports progress. window.mediaPage exposes the state for tests and curious developers.
"use strict";

const $ = (id) => document.getElementById(id);
const log = (line) => { $("log").textContent += line + "\n"; };
const mode = new URLSearchParams(location.search).get("mode") || "record";

const page = {
  mode,
  pc: null,
  messages: [],
  error: null,
  // What getStats says about the video we send (record) or receive (play).
  async stats() {
    const out = { connection: page.pc ? page.pc.connectionState : "new" };
    if (!page.pc) return out;
    (await page.pc.getStats()).forEach((entry) => {
      if (entry.type === "inbound-rtp" && entry.kind === "video") {
        Object.assign(out, {
          framesDecoded: entry.framesDecoded, keyFramesDecoded: entry.keyFramesDecoded,
          framesReceived: entry.framesReceived, frameWidth: entry.frameWidth,
          frameHeight: entry.frameHeight, packetsLost: entry.packetsLost,
          pliCount: entry.pliCount, nackCount: entry.nackCount,
        });
      } else if (entry.type === "outbound-rtp" && entry.kind === "video") {
        Object.assign(out, {
          framesEncoded: entry.framesEncoded, packetsSent: entry.packetsSent,
          frameWidth: entry.frameWidth, frameHeight: entry.frameHeight,
          pliCount: entry.pliCount, nackCount: entry.nackCount,
        });
      }
    });
    return out;
  },
};
window.mediaPage = page;

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

async function start() {
  const pc = new RTCPeerConnection({ iceServers: [] });
  page.pc = pc;
  pc.onconnectionstatechange = () => { $("connection").textContent = pc.connectionState; };
  const channel = pc.createDataChannel("status");
  channel.onmessage = ({ data }) => { page.messages.push(data); log(`python: ${data}`); };

  if (mode === "record") {
    $("title").textContent = "Camera → trio-webrtc → file";
    $("what").textContent = "Your camera is sent to the Python peer, which writes it to a file.";
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    $("local").srcObject = stream;
    for (const track of stream.getVideoTracks()) pc.addTrack(track, stream);
  } else {
    $("title").textContent = "File → trio-webrtc → this page";
    $("what").textContent = "The Python peer sends a video file; this page plays it.";
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = ({ track }) => {
      $("remote").srcObject = new MediaStream([track]);
      $("remote").play().catch((error) => log(`play: ${error}`));
    };
  }

  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const response = await fetch("/offer", { method: "POST", body: pc.localDescription.sdp });
  if (!response.ok) throw new Error(`the server refused the offer: ${await response.text()}`);
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  log("answer applied; connecting…");

  setInterval(async () => {
    const s = await page.stats();
    const counters = mode === "record"
      ? `frames encoded and sent: ${s.framesEncoded ?? 0}`
      : `frames decoded: ${s.framesDecoded ?? 0} (${s.frameWidth ?? "?"}×${s.frameHeight ?? "?"})`;
    $("counters").textContent = counters;
  }, 500);
}

start().catch((error) => { page.error = String(error); log(`error: ${error}`); });
