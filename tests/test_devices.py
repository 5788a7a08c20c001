from realtime.live.devices import looks_like_feedback


def test_feedback_guard_spots_built_in_mic_and_speakers():
    assert looks_like_feedback("MacBook Pro Microphone", "MacBook Pro Speakers")
    assert looks_like_feedback("Built-in Audio Analog Stereo", "Built-in Audio Analog Stereo")
    assert looks_like_feedback("Microphone Array (Realtek)", "Speakers (Realtek)")
    assert not looks_like_feedback("MacBook Pro Microphone", "External Headphones")
    assert not looks_like_feedback("Built-in Microphone", "Headset Earphone")
    assert not looks_like_feedback("Scarlett 2i2 USB", "Scarlett 2i2 USB")
    assert not looks_like_feedback("system", "system")  # JACK: routing is the user's
