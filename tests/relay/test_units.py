"""Plain unit tests of the relay's I/O-free parts: SDP filtering, numbering, VP8, TURN."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from server.relay import RelayError, RelaySettings, turn_credentials
from server.relay.media import (
    OPUS_SILENCE,
    encode_blank_h264,
    encode_blank_video,
    is_h264_keyframe,
    is_vp8_keyframe,
    vp8_payloads,
)
from server.relay.sdp_filter import Offer, choose_codec, filter_offer, is_public_address
from server.relay.sequencing import OutStream

OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
        "c=IN IP4 0.0.0.0",
        "a=mid:0",
        "a=sendonly",
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
        "a=candidate:2 1 udp 2130706431 192.168.1.4 5000 typ host",
        "a=candidate:3 1 udp 2130706431 fe80::1 5000 typ host",
        "a=candidate:4 1 udp 2130706431 abc.local 5000 typ host",
        "a=candidate:5 1 udp 1694498815 8.8.4.4 5000 typ srflx raddr 0.0.0.0 rport 0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103",
        "c=IN IP4 0.0.0.0",
        "a=mid:1",
        "a=recvonly",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:102 H264/90000",
        "a=fmtp:102 profile-level-id=42e01f",
        "a=rtpmap:103 rtx/90000",
        "a=fmtp:103 apt=102",
        "",
    ]
)


def _filter(text: str = OFFER, allow: bool = True) -> Offer:
    return filter_offer(text, max_bytes=65536, max_sections=28, allow_private_candidates=allow)


def test_filter_keeps_only_opus_vp8_and_its_rtx() -> None:
    """Other codecs and their RTX disappear from m-lines and attributes."""
    offer = _filter()
    assert "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" in offer.sdp
    assert "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n" in offer.sdp
    assert "H264" not in offer.sdp and "PCMU" not in offer.sdp and "apt=102" not in offer.sdp
    assert [(s.mid, s.kind, s.direction, s.codec) for s in offer.sections] == [
        ("0", "audio", "sendonly", "opus"),
        ("1", "video", "recvonly", "vp8"),
    ]


def _without_vp8(text: str) -> str:
    """Drop VP8 and its RTX from OFFER, and add an H.264 variant in packetization mode 0."""
    gone = ("a=rtpmap:96 ", "a=rtcp-fb:96 ", "a=rtpmap:97 ", "a=fmtp:97 ")
    lines = [ln for ln in text.split("\r\n") if not ln.startswith(gone)]
    text = "\r\n".join(lines).replace("SAVPF 96 97 102 103", "SAVPF 102 103 104")
    return text.replace(
        "a=fmtp:102 profile-level-id=42e01f",
        "a=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n"
        "a=rtpmap:104 H264/90000\r\na=fmtp:104 profile-level-id=42e01f",
    )


def test_codec_choice_prefers_forwarding_and_falls_back_only_to_receive() -> None:
    """VP8 wins when offered; H.264 is taken only on a receive-only video m-line."""
    both = {"vp8": {"96"}, "h264": {"102"}}
    assert choose_codec("video", both, sends=False) == "vp8"
    assert choose_codec("video", both, sends=True) == "vp8"
    assert choose_codec("video", {"h264": {"102"}}, sends=False) == "h264"
    assert choose_codec("video", {"h264": {"102"}}, sends=True) is None
    assert choose_codec("video", {"av1": {"45"}}, sends=False) is None
    assert choose_codec("audio", {"pcmu": {"0"}}, sends=False) is None
    assert choose_codec("audio", {"opus": {"111"}}, sends=True) == "opus"


def test_h264_only_receive_line_keeps_mode_1_h264_and_its_rtx() -> None:
    """A recvonly video m-line without VP8 keeps packetization-mode 1 H.264 (+RTX), nothing else."""
    offer = _filter(_without_vp8(OFFER))
    assert "m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\n" in offer.sdp
    assert "a=rtpmap:104" not in offer.sdp and "VP8" not in offer.sdp
    assert offer.sections[1].codec == "h264"
    sending = _without_vp8(OFFER).replace("a=recvonly", "a=sendrecv")
    with pytest.raises(RelayError, match="VP8"):
        _filter(sending)


def test_h264_keyframes_are_recognised_in_every_packetization() -> None:
    """STAP-A with an SPS, an FU-A start of an IDR and a single IDR NAL are keyframes."""
    blank = encode_blank_h264()
    assert all(is_h264_keyframe(p) for p in (blank.keyframe[0], blank.repeat[0]))
    assert is_h264_keyframe(bytes([0x7C, 0x85, 0x00]))  # FU-A, start, type 5
    assert not is_h264_keyframe(bytes([0x7C, 0x05, 0x00]))  # FU-A, middle fragment
    assert not is_h264_keyframe(bytes([0x7C, 0x81, 0x00]))  # FU-A, start, non-IDR slice
    assert is_h264_keyframe(bytes([0x65, 0x88])) and not is_h264_keyframe(bytes([0x41, 0x9A]))
    assert not is_h264_keyframe(b"") and not is_h264_keyframe(bytes([0x78, 0x00, 0x02, 0x41]))


def test_private_candidates_are_dropped_only_when_not_allowed() -> None:
    """Loopback, private, link-local and mDNS candidates go; public ones stay."""
    assert _filter(allow=True).sdp.count("a=candidate:") == 5
    kept = [ln for ln in _filter(allow=False).sdp.split("\r\n") if ln.startswith("a=candidate")]
    assert kept == ["a=candidate:5 1 udp 1694498815 8.8.4.4 5000 typ srflx raddr 0.0.0.0 rport 0"]
    assert not is_public_address("10.0.0.1") and not is_public_address("100.64.0.1")
    assert is_public_address("2001:4860:4860::8888")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (OFFER.replace("opus", "speex"), "Opus"),
        (OFFER.replace("a=mid:1", "a=x"), "a=mid"),
        (OFFER.replace("m=video", "m=application"), "audio and video"),
        (OFFER.replace("a=mid:1", "a=mid:0"), "repeats"),
        ("v=0\r\n", "no media"),
        ("x", "not a valid"),
    ],
)
def test_malformed_offers_are_refused_with_a_sentence(text: str, message: str) -> None:
    """Each kind of bad offer gets a RelayError whose message names the problem."""
    with pytest.raises(RelayError, match=message) as info:
        _filter(text)
    assert str(info.value).endswith(".")


def test_out_stream_is_continuous_across_source_switches() -> None:
    """After a switch to a new source the consumer sees the next seq and a later timestamp."""
    out = OutStream(90000)
    first = out.rewrite(1000, 5000, now=10.0)
    assert first is not None
    second = out.rewrite(1001, 8000, now=10.033)
    assert second == ((first[0] + 1) % 65536, (first[1] + 3000) % 2**32)
    seq, ts = out.own(now=10.133)
    assert seq == (first[0] + 2) % 65536 and ts == (first[1] + 3000 + 9000) % 2**32
    out.reanchor()
    mapped = out.rewrite(60000, 123, now=10.233)
    assert mapped == ((seq + 1) % 65536, (ts + 9000) % 2**32)
    assert out.rewrite(59990, 100, now=10.3) is None  # from before the switch


def test_out_stream_wraps_sequence_numbers() -> None:
    """Sequence numbers and timestamps wrap modulo 2^16 and 2^32."""
    out = OutStream(48000)
    out.next_seq, out.last_ts = 65535, 2**32 - 10
    a = out.rewrite(7, 0, now=1.0)
    b = out.rewrite(8, 960, now=1.02)
    assert a is not None and b is not None
    assert a[0] == 65535 and b[0] == 0 and b[1] == (a[1] + 960) % 2**32


def test_blank_video_is_a_small_black_keyframe_then_deltas() -> None:
    """The pre-encoded black frames are tiny and the keyframe is detected as one."""
    blank = encode_blank_video()
    assert len(blank.keyframe) < 1200 and len(blank.delta) < 200
    assert is_vp8_keyframe(vp8_payloads(blank.keyframe, 7)[0])
    assert not is_vp8_keyframe(vp8_payloads(blank.delta, 8)[0])
    assert len(vp8_payloads(b"x" * 3000, 1)) == 3
    assert OPUS_SILENCE == b"\xf8\xff\xfe"


def test_turn_credentials_follow_the_coturn_rest_scheme() -> None:
    """username is expiry:participant and credential is base64(HMAC-SHA1(secret, username))."""
    cred = turn_credentials("s3cret", "p1", ["turn:turn.example:3478"], ttl=600, now=1000)
    assert cred["username"] == "1600:p1"
    digest = hmac.new(b"s3cret", b"1600:p1", hashlib.sha1).digest()
    assert cred["credential"] == base64.b64encode(digest).decode()
    assert cred["urls"] == ["turn:turn.example:3478"]
    with pytest.raises(ValueError):
        turn_credentials("", "p1", [])


def test_settings_validate_themselves() -> None:
    """Impossible settings fail at construction with a message naming the field."""
    with pytest.raises(ValueError, match="max_per_session"):
        RelaySettings(max_per_session=1)
    with pytest.raises(ValueError, match="urls"):
        RelaySettings(ice_servers=({"username": "x"},))
    assert "credential" not in repr(RelaySettings(ice_servers=({"urls": "x", "credential": "c"},)))
