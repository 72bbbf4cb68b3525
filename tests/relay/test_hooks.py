"""The aiortc private internals the relay depends on: fail loudly if an upgrade moves them.

Their behaviour (NACKs answered from the history, PLI and REMB upstream) is tested in test_media.
"""

from __future__ import annotations

import aiortc
from aiortc import RTCPeerConnection, RTCSessionDescription

from server.relay.aiortc_hooks import AIORTC_VERSION, check_aiortc, check_transceiver


def test_aiortc_is_the_pinned_version():
    """The relay is only known to work with the aiortc version its hooks were written for."""
    assert aiortc.__version__ == AIORTC_VERSION
    check_aiortc()


async def test_live_transceivers_have_the_private_fields_the_relay_uses():
    """A negotiated transceiver exposes every private attribute aiortc_hooks reads."""
    client, server = RTCPeerConnection(), RTCPeerConnection()
    client.addTransceiver("video", direction="recvonly")
    await client.setLocalDescription(await client.createOffer())
    await server.setRemoteDescription(
        RTCSessionDescription(sdp=client.localDescription.sdp, type="offer")
    )
    transceiver = server.getTransceivers()[0]
    check_transceiver(transceiver)
    assert isinstance(transceiver.sender._RTCRtpSender__rtp_history, dict)
    assert transceiver.receiver._RTCRtpReceiver__codecs == {}
    await client.close()
    await server.close()
