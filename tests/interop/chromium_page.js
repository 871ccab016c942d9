// The browser half of tests/interop/chromium_peer.py: an RTCPeerConnection speaking the
// interop peer protocol (tests/interop/harness.py). Messages to the driver go through the
// CDP binding `toDriver(json)`; messages from the driver arrive as `peer.handle(msg)`.
"use strict";
window.peer = (() => {
  const LABELS = ["echo", "unordered", "unreliable", "neg"];
  let pc = null;
  let role = null;
  let trickle = true;
  const channels = new Map(); // label -> RTCDataChannel
  const opened = new Set();
  const closedReported = new Set();
  let readySent = false;
  const pendingCandidates = [];

  function send(message) {
    window.toDriver(JSON.stringify(message));
  }

  function log(...args) {
    console.log("[page]", ...args);
  }

  function checkReady() {
    if (!readySent && LABELS.every((label) => opened.has(label))) {
      readySent = true;
      send({ type: "ready" });
      selectedPair().then(
        (pair) => send({ type: "_report", pair, ...sdpFacts() }),
        (error) => log("getStats failed:", String(error)),
      );
    }
  }

  // For the test's assertions (the peer process logs it, the driver never sees it): the
  // selected candidate pair as Chromium sees it, and what its SDPs said.
  async function selectedPair() {
    const report = await pc.getStats();
    let pairId = null;
    report.forEach((entry) => {
      if (entry.type === "transport" && entry.selectedCandidatePairId) {
        pairId = entry.selectedCandidatePairId;
      }
    });
    const pair = pairId && report.get(pairId);
    if (!pair) return null;
    const describe = (id) => {
      const c = report.get(id);
      return c && { type: c.candidateType, address: c.address, port: c.port, protocol: c.protocol };
    };
    return { local: describe(pair.localCandidateId), remote: describe(pair.remoteCandidateId) };
  }

  function sdpFacts() {
    const attribute = (sdp, name) => {
      const line = sdp.split(/\r?\n/).find((l) => l.startsWith("a=" + name + ":"));
      return line ? line.slice(name.length + 3) : null;
    };
    const local = pc.localDescription.sdp;
    return {
      localType: pc.localDescription.type,
      setup: attribute(local, "setup"),
      maxMessageSize: attribute(local, "max-message-size"),
      sctpPort: attribute(local, "sctp-port"),
      remoteSetup: attribute(pc.remoteDescription.sdp, "setup"),
      sctpMaxMessageSize: pc.sctp ? pc.sctp.maxMessageSize : null,
    };
  }

  function reportClosed(label) {
    if (!closedReported.has(label)) {
      closedReported.add(label);
      send({ type: "channel_closed", label });
    }
  }

  function wire(channel) {
    channel.binaryType = "arraybuffer";
    channels.set(channel.label, channel);
    channel.onopen = () => {
      opened.add(channel.label);
      checkReady();
    };
    channel.onmessage = (event) => {
      // Echo unchanged: a string stays a string, an ArrayBuffer stays binary, even empty.
      try {
        channel.send(event.data);
      } catch (error) {
        log("echo on", channel.label, "failed:", String(error));
      }
    };
    channel.onclose = () => reportClosed(channel.label);
    channel.onerror = (event) => log("channel", channel.label, "error:", String(event.error));
    if (channel.readyState === "open") {
      opened.add(channel.label);
      checkReady();
    }
  }

  function waitGathered() {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") resolve();
      });
    });
  }

  async function sendDescription() {
    if (!trickle) await waitGathered();
    const description = pc.localDescription;
    send({ type: description.type, sdp: description.sdp });
  }

  async function addCandidate(message) {
    const init = {
      candidate: message.candidate,
      sdpMid: message.sdpMid ?? "0",
      sdpMLineIndex: message.sdpMLineIndex ?? 0,
    };
    if (!pc.remoteDescription) {
      pendingCandidates.push(init);
      return;
    }
    await pc.addIceCandidate(init);
  }

  async function flushCandidates() {
    while (pendingCandidates.length) await pc.addIceCandidate(pendingCandidates.shift());
  }

  return {
    async start(options) {
      role = options.role;
      trickle = options.trickle;
      pc = new RTCPeerConnection({ iceServers: [] });
      pc.onconnectionstatechange = () => send({ type: "state", state: pc.connectionState });
      pc.onicecandidate = (event) => {
        if (!trickle) return;
        const candidate = event.candidate;
        send({
          type: "candidate",
          candidate: candidate ? candidate.candidate : "",
          sdpMid: candidate ? candidate.sdpMid : "0",
          sdpMLineIndex: candidate ? candidate.sdpMLineIndex : 0,
        });
      };
      pc.ondatachannel = (event) => wire(event.channel);
      wire(pc.createDataChannel("neg", { negotiated: true, id: 3 }));
      if (role === "offer") {
        wire(pc.createDataChannel("echo"));
        wire(pc.createDataChannel("unordered", { ordered: false }));
        wire(pc.createDataChannel("unreliable", { ordered: false, maxRetransmits: 0 }));
        await pc.setLocalDescription(await pc.createOffer());
        await sendDescription();
      }
      return true;
    },

    async handle(message) {
      switch (message.type) {
        case "offer":
          await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
          await flushCandidates();
          await pc.setLocalDescription(await pc.createAnswer());
          await sendDescription();
          break;
        case "answer":
          await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
          await flushCandidates();
          break;
        case "candidate":
          await addCandidate(message);
          break;
        case "close_channel": {
          const channel = channels.get(message.label);
          if (channel) channel.close();
          break;
        }
        case "close":
        case "bye":
          if (pc && pc.signalingState !== "closed") pc.close();
          // pc.close() closes every channel without firing their close events.
          for (const label of channels.keys()) reportClosed(label);
          break;
        default:
          log("ignoring message", message.type);
      }
      return true;
    },
  };
})();
