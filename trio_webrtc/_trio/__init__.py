"""The Trio wing: the only code in the package that touches sockets, clocks and tasks.

Everything under the protocol folders (``sdp/``, ``ice/``, ``dtls/``, ``sctp/``,
``datachannel/``, ``core/``) is sans-I/O. This private package runs it:

* :mod:`.driver` — :class:`~trio_webrtc._trio.driver.CoreDriver`, one per connection: a
  receive task per UDP socket, one timer task, the bundling flusher and the EAGAIN
  writer, all in the owner's nursery; Linux UDP GSO/GRO with a portable fallback.
* :mod:`.turn_streams` — name resolution of STUN/TURN URLs and TURN over TCP/TLS
  (RFC 8656 §3.1).
* :mod:`.mdns_resolver` — one-shot mDNS queries for ``.local`` candidates (RFC 6762).
* :mod:`.netif` — local interface addresses for host candidates (RFC 8445 §5.1.1.1).

The faces (:mod:`trio_webrtc.peer_connection`, :mod:`trio_webrtc.godot`) build on it;
applications never import it.
"""
