// The browser half of tests/interop/test_chromium_media.py: an RTCPeerConnection that
// sends its fake camera and microphone (getUserMedia) to the trio_webrtc peer, plays what
// comes back, and echoes through a data channel "echo" on the same connection. Signaling
// is non-trickle: every description returned here carries its candidates (gathering done).
"use strict";
window.media = (() => {
  let pc = null;
  let stream = null;
  let channel = null;
  const echoes = [];
  const remote = { audio: null, video: null };

  function log(...args) {
    console.log("[media page]", ...args);
  }

  async function gathered() {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((resolve) => {
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") resolve();
      });
    });
  }

  function attach(track) {
    const element = document.createElement(track.kind === "video" ? "video" : "audio");
    element.autoplay = true;
    element.muted = track.kind === "video";
    element.srcObject = new MediaStream([track]);
    document.body.appendChild(element);
    element.play().catch((error) => log("play", track.kind, String(error)));
    remote[track.kind] = track;
  }

  function useChannel(dc) {
    channel = dc;
    dc.binaryType = "arraybuffer";
    dc.onmessage = (event) => echoes.push(event.data);
  }

  async function start() {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    pc = new RTCPeerConnection({ iceServers: [] });
    pc.ontrack = (event) => attach(event.track);
    pc.ondatachannel = (event) => useChannel(event.channel);
    pc.onconnectionstatechange = () => log("connection", pc.connectionState);
    return stream.getTracks().map((t) => t.kind);
  }

  // Chromium offers (or re-offers): its tracks unless `withTracks` is false (each once)
  // and the "echo" channel (once) unless `withChannel` is false (audio/video only).
  async function offer(withTracks = true, withChannel = true) {
    for (const track of stream.getTracks()) {
      const sent = pc.getSenders().some((s) => s.track === track);
      if (withTracks && !sent) pc.addTrack(track, stream);
    }
    if (withChannel && !channel) useChannel(pc.createDataChannel("echo"));
    await pc.setLocalDescription(await pc.createOffer());
    await gathered();
    return pc.localDescription.sdp;
  }

  async function acceptAnswer(sdp) {
    await pc.setRemoteDescription({ type: "answer", sdp });
  }

  // trio_webrtc offers (or re-offers): Chromium's tracks join the transceivers its
  // offer created, once each; a data-only offer leaves them unsent.
  async function answer(sdp) {
    await pc.setRemoteDescription({ type: "offer", sdp });
    for (const track of stream.getTracks()) {
      const sent = pc.getSenders().some((s) => s.track === track);
      const free = pc
        .getTransceivers()
        .some((t) => t.mid && t.receiver.track.kind === track.kind && !t.sender.track);
      if (!sent && free) pc.addTrack(track, stream);
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered();
    return pc.localDescription.sdp;
  }

  // Send `count` messages through the channel and wait (bounded) for their echoes.
  async function echo(count) {
    while (!channel || channel.readyState !== "open") await sleep(50);
    const sent = [];
    for (let i = 0; i < count; i++) {
      const text = `media-echo-${i}`;
      sent.push(text);
      channel.send(text);
    }
    for (let i = 0; i < 200 && echoes.length < count; i++) await sleep(50);
    return { sent, echoed: echoes.slice(0, count) };
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // What getStats says about what comes back, and about what we send.
  async function stats() {
    const report = await pc.getStats();
    const out = { inbound: {}, outbound: {}, codecs: {}, connection: pc.connectionState };
    report.forEach((entry) => {
      if (entry.type === "inbound-rtp") {
        out.inbound[entry.kind] = {
          packetsReceived: entry.packetsReceived,
          bytesReceived: entry.bytesReceived,
          framesDecoded: entry.framesDecoded,
          framesReceived: entry.framesReceived,
          freezeCount: entry.freezeCount,
          totalFreezesDuration: entry.totalFreezesDuration,
          keyFramesDecoded: entry.keyFramesDecoded,
          totalSamplesReceived: entry.totalSamplesReceived,
          audioLevel: entry.audioLevel,
          totalAudioEnergy: entry.totalAudioEnergy,
          codecId: entry.codecId,
          mid: entry.mid,
        };
      } else if (entry.type === "outbound-rtp") {
        out.outbound[entry.kind] = {
          packetsSent: entry.packetsSent,
          framesEncoded: entry.framesEncoded,
          nackCount: entry.nackCount,
          pliCount: entry.pliCount,
        };
      } else if (entry.type === "codec") {
        out.codecs[entry.id] = entry.mimeType;
      }
    });
    out.remoteTracks = {
      audio: remote.audio && remote.audio.readyState,
      video: remote.video && remote.video.readyState,
    };
    return out;
  }

  function close() {
    if (pc) pc.close();
    if (stream) stream.getTracks().forEach((t) => t.stop());
  }

  return { start, offer, acceptAnswer, answer, echo, stats, close };
})();
