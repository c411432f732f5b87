"""The audio test tools find what they must and nothing else (synthetic signals, no Asterisk)."""

import math

from tests.audio import g711, rtp, tones


def tone(freq, seconds, amp=8000.0, rate=8000):
    return [int(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(int(seconds * rate))]


def silence(seconds):
    return [0] * int(seconds * 8000)


def test_ulaw_round_trip_is_close():
    for x in (-30000, -1000, -10, 0, 10, 1000, 30000):
        assert abs(g711.ULAW_TABLE[g711.ulaw_encode_sample(x)] - x) <= max(16, abs(x) // 16)


def test_two_beeps_found_exactly():
    audio = silence(0.5) + tone(440, 0.12) + silence(0.12) + tone(440, 0.12) + silence(0.5)
    bursts = tones.tone_bursts(audio, 440)
    assert len(bursts) == 2
    assert all(0.1 <= b.length <= 0.14 for b in bursts)


def test_beeps_found_over_other_audio_and_other_audio_is_not_a_beep():
    speech = tone(1000, 1.5, amp=3000)
    beeped = speech[:]
    for start in (4000, 6000):
        for i in range(960):
            beeped[start + i] += int(8000 * math.sin(2 * math.pi * 440 * i / 8000))
    assert len(tones.tone_bursts(beeped, 440)) == 2
    assert tones.tone_bursts(speech, 440) == []


def test_pcap_written_for_sipp_reads_back(tmp_path):
    payload = g711.tone_ulaw(1000, 1.0)
    path = tmp_path / "talk.pcap"
    rtp.write_rtp_pcap(path, payload)
    packets = rtp.read_pcap(path)
    assert len(packets) == 50 and packets[0].marker and packets[0].payload_type == 0
    samples, arrivals = rtp.audio_samples(packets)
    assert len(samples) == 8000
    assert abs(rtp.largest_gap(arrivals) - 0.02) < 1e-6
    assert len(tones.tone_bursts(samples, 1000)) == 1
