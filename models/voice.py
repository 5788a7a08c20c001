"""Voice styles: pitch and formant shifting by pitch-synchronous overlap-add (PSOLA), streaming,
in PyTorch ops that export to ONNX, every piece of state explicit.

How it works, per frame of ``HOP`` = 128 samples (48 kHz):
- The streaming YIN tracker (``models.pitch``) gives the input's period and how periodic it is.
  A frame is voiced when confidently periodic, or when it continues a voiced stretch at a nearby
  period with less confidence (a voiced consonant, a breathy or creaky vowel: left unshifted,
  such a frame would jump back to the input's pitch in the middle of a word); unvoiced frames
  count as period ``UNVOICED_PERIOD``. Both phases below follow the median of
  that period over ``SMOOTHING`` frames, so a tracker's octave slip of a frame or two never
  reaches the output; the median is known ``LAG`` frames late, which costs nothing, because the
  grains are cut from audio older than that anyway.
- An *analysis phase* advances one cycle per input period. Its integer crossings are the
  analysis marks: one per pitch period, so any two lie a whole number of periods apart.
- A *synthesis phase* advances one cycle per output period: the input period divided by
  2^(pitch / 12), blended towards no shift as the voicing fades, so unvoiced sounds (s, f, t)
  keep their own time structure and do not turn into tones. Each integer crossing places a grain.
  The input period it divides is the one the analysis phase had where the grain is cut
  (``SYNTHESIS_DELAY`` = 2 frames earlier than the newest median): then an error in the
  tracker's period moves the marks and the spacing alike and cancels in the output's pitch,
  which follows the input's own. With the newest median instead (as before), the output's f0
  missed the input's x 2^(pitch/12) by 15.6 cents median (Harvest on 8 flite sentences and 4
  Fish Fillets lines at pitch -7, -5, +5, +7), with this delay by 10.5 (1 frame 12.3, 3 frames
  12.6); WORLD's own shift measures 10.6 there.
- A voiced grain is the input around the two analysis marks either side of its own time minus
  ``LATENCY``, cross-faded by where that time lies between them (the input interpolated between
  two periods), Hann-windowed over one analysis period either side, read at 2^(formant / 12)
  times the speed (cubic interpolation): that scales its spectral envelope, the formants, while
  the pitch is set by how far apart the grains are placed, so pitch and formant are independent.
  Cross-fading instead of taking the nearest mark: raised, a voice no longer repeats one period
  in every few and then jumps (lowered, no longer skips one), so its output changes from period
  to period as smoothly as its input does. On the voice bench's quick clips (16 flite sentences,
  8 Fish Fillets lines) at pitch +5 / -5: DNSMOS OVRL 2.256 / 2.340 -> 2.274 / 2.385, octave
  errors on the frames whose f0 is unambiguous 2.11% / 1.97% -> 1.77% / 1.43%, median error
  13.7 / 8.8 -> 13.0 / 8.4 cents. Grains are
  overlap-added into an accumulator that carries the not-yet-played future. Unvoiced grains
  are one output spacing wide, so their windows add up to exactly one: at formant 0 unvoiced
  sound comes out unchanged, exactly ``LATENCY`` later.

Latency: a grain centred at output time c is placed ``HALF_OUT`` samples before c and reads
input up to ``HALF_IN`` samples after c - ``LATENCY``, which is ``LATENCY - HALF_OUT`` before the
present. So at low pitch (below 100 Hz at formant 0) the grains cover less than
one period either side (with a gain that keeps the level), and the later of a grain's two marks
is read only as far ahead as that allows (and only where the grain's own frame holds it whole,
so any block size reads the same): for long periods it comes in later in the cycle, and the
delay is up to a period longer. ``LATENCY`` = 992 samples (20.7 ms); a 128-frame block adds
2.7 ms: 23.3 ms in all. Voiced sound waits up to half an output period more for its first
grain; a voiced onset's first grains, whose earlier mark still lies in the unvoiced stretch
before the voice, read the later mark alone (a fade from that mark read the silence before the
voice: `feminine` started 1166 samples late on a 300 Hz tone). The styles declare the later
onset of a 110 Hz and a 220 Hz tone at their default knobs (``models/voice_recipes.py``):
976-992 samples; from 90 to 300 Hz they start within 40 samples of that.

Modes: ``shift`` (pitch and formant); ``robot`` (voiced grains at one fixed pitch, set by the
pitch knob around ``ROBOT_HZ``, E3); ``whisper`` (voiced grains, each at most half a period long,
placed at irregular times with random signs, each scaled to its share of the period's energy so
that the whisper keeps the voice's level: the vocal tract's response with no pitch in it; the
pitch knob sets how dense the grains are).
Randomness is a hash of a frame counter carried in the state, so streaming equals one call.

Cost: the graph's tensors are small, so on a CPU its time goes to dispatching its nodes, not to
arithmetic (ONNX Runtime's profile). It is written to export few of them: one
gather for each sliding window (``_windows``), negative slices where a state keeps a buffer's
end, ``flatten`` rather than a reshape to a shape read from another tensor. Those changes took
the shift graph from 781 nodes to 644 after ONNX Runtime's optimisation, with the same output
to the bit; the README's voice section has the cost they measure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from models.arch import stream
from models.pitch import HOP, RATE, PitchLoudness, last_marked

ARCH = "voice"
LATENCY = 992
HALF_OUT = 480  # the longest grain half-length, output samples
HALF_IN = LATENCY - HALF_OUT - 4  # the longest grain half-length, input samples (cubic taps stay in the past)
UNVOICED_PERIOD = 256  # divides LATENCY - HALF_OUT: at no shift, marks align and the delay is exactly LATENCY
MIN_PERIOD = 43  # input f0 at most 1116 Hz
#: output f0 at most 750 Hz (a voice at 375 Hz raised an octave; whisper's grains no denser above
#: pitch +7): two grain slots a frame, which pays for the second read of each grain (at 1116 Hz,
#: three slots, the styles cost 20-30% more)
MIN_OUTPUT_PERIOD = 64
MAX_PERIOD = 800  # input f0 at least 60 Hz
MARKS_PER_FRAME = 2  # HOP / MIN_OUTPUT_PERIOD, rounded up
SMOOTHING = 5  # frames: the median of the tracker's periods that both phases follow
LAG = SMOOTHING // 2  # frames: the analysis phase is that far behind the input, for the median
#: frames by which the synthesis follows the smoothed period later than the analysis phase does:
#: a grain made now is cut around input LATENCY - HALF_OUT samples back, where the analysis phase
#: runs on the smoothed period LAG frames later than it is made (see ``step``)
SYNTHESIS_DELAY = (LATENCY - HALF_OUT) // HOP - LAG
PHASE_FRAMES = 14  # analysis-phase history kept (frames): covers LATENCY - HALF_OUT + MAX_PERIOD + HOP - LAG
HISTORY = LATENCY + MAX_PERIOD + HALF_IN + 2 * HOP  # input samples kept
VOICED_CONFIDENCE = (0.5, 0.7)  # YIN confidence: unvoiced below, voiced above
LEVEL_GATE_DB = -60.0  # quieter frames are treated as unvoiced
GATE_FRAMES = 3  # = LAG + 1
CONTINUE_CONFIDENCE = 0.2
CONTINUE_SEMITONES = 1.0
CONTINUE_FRAMES = 60  # 160 ms
ROBOT_HZ = 164.81  # E3
WHISPER_PERIOD = 192.0  # mean grain spacing while whispering (4 ms)
#: a whisper grain's level correction (``VoiceModel._whisper_level``): at most this gain, and the
#: energy floor (a share of the expected energy) that keeps a grain read from near silence quiet
WHISPER_MAX_LEVEL = 4.0
WHISPER_FLOOR = 0.01
MAX_GAIN = 2.0
#: the level keeper (``VoiceModel._keep_level``): how long its power averages run (s), the
#: frames whose grains an output frame holds, and the gain's limits
LEVEL_SECONDS = 0.1
LEVEL_RATE = 1 - math.exp(-HOP / (LEVEL_SECONDS * RATE))  # per frame
LEVEL_FRAMES = 8
LEVEL_RANGE = (0.25, 4.0)
MIN_REACH = 1e-3  # cycles: the least read-ahead the cross-fade divides by (none: a sharp switch at its end)
#: the tracker's octave-down check (``models.pitch``): octave errors on the voice bench's
#: clips (pitch -5 and +5, Harvest) 5.4% -> 4.4% of voiced frames, median error 10.8 -> 10.2 cents
SUBHARMONIC_RATIO = 0.5

#: a personal voice (``PersonalMapping``): how fast the input's pitch statistics are learned (an
#: exponential average over this many confidently voiced frames: 2 s of voiced speech), the
#: least spread assumed (semitones), and how far the range may be stretched or squeezed
STATS_FRAMES = 750.0
#: how many voiced frames the prior statistics count for when the input's own begin to arrive
#: (the average is a plain running mean until the prior and the input together reach
#: STATS_FRAMES, an exponential one after): a source's statistics are worth 1 s of voiced
#: speech; without a source the prior is the target's, which says nothing of the input: 0.13 s
PRIOR_FRAMES_SOURCE = 375.0
PRIOR_FRAMES_NO_SOURCE = 50.0
DEVIATION_CAP_ST = 7.0
#: frames tracked above this f0 do not count toward the input's statistics: no voice speaks
#: there. The tracker reads a formant's period as the voice's where the voice's own dip is
#: weak (at 800-1116 Hz: 7.5% of the frames counted on flite's rms), and since the mean, unlike
#: the spread, has no cap, they moved it by up to 3 semitones (rms's 105 Hz learned as 122 Hz)
STATS_MAX_F0_HZ = 600.0
SPREAD_PER_DEVIATION = math.sqrt(math.pi / 2)  # standard deviation / mean absolute deviation, normal
MIN_SPREAD_ST = 0.5
RANGE_LIMITS = (0.5, 2.0)
#: formant shift per semitone of pitch-mean difference (a personal voice): on a tuning split of
#: flite sentences (three voice pairs; README), 0.15 / 0.3 / 0.45 reduced the mel-cepstral
#: distortion to the target by 22.5% / 24.9% / 24.6%
FORMANT_PER_PITCH = 0.3
EQ_TAPS = 2048

PITCH = {"name": "pitch", "min": -12.0, "max": 12.0, "unit": "st", "step": 1.0}
FORMANT = {"name": "formant", "min": -4.0, "max": 4.0, "unit": "st", "step": 0.5}
MODES = ("shift", "robot", "whisper")


def _split(value: torch.Tensor) -> torch.Tensor:
    """A float64 tensor as two float32 parts (high, low) stacked on a new last axis."""
    high = value.to(torch.float32)
    return torch.stack([high, (value - high.to(torch.float64)).to(torch.float32)], dim=-1)


def _join(parts: torch.Tensor) -> torch.Tensor:
    return parts.to(torch.float64).sum(dim=-1)


def _hash_unit(counter: torch.Tensor) -> torch.Tensor:
    """A deterministic pseudo-random number in [0, 1) per integer-valued float64 ``counter``."""
    k = counter.to(torch.int64)
    k = (k * 1103515245 + 12345) % 2147483648
    k = (k * k) // 65536 % 2147483648  # the square's middle bits: without it, consecutive counters
    k = (k * 1103515245 + 12345) % 2147483648  # gave values a constant apart (signs alternated 92% of the time)
    return (k // 65536).to(torch.float64) / 32768.0


def _windows(x: torch.Tensor, width: int, count: int) -> torch.Tensor:
    """[B, width - 1 + count, ...] -> [B, count, width, ...]: each ``width`` consecutive rows along
    dim 1, read by one gather (not ``unfold``, which exports a loop; a slice per row, as before,
    put about 4 nodes in the graph per row, 77 for the 21 rows the shift graph reads: see
    the module's note on cost)."""
    index = torch.arange(count, device=x.device)[:, None] + torch.arange(width, device=x.device)[None, :]
    return x[:, index]


def _hann(offsets: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    """A Hann window of half-length ``half`` (per grain) at ``offsets`` from the grain's centre."""
    return 0.5 + 0.5 * torch.cos(math.pi * (offsets / half[..., None]).clamp(-1.0, 1.0))


def _cubic(buffer: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """Catmull-Rom interpolation of ``buffer [B, L]`` at float64 ``position [B, ...]``
    (clamped inside the buffer)."""
    length = buffer.shape[1]
    base = torch.floor(position).clamp(1, length - 3)
    frac = (position - base).clamp(0.0, 1.0).to(buffer.dtype)
    index = base.to(torch.int64)
    flat = index.flatten(1)
    taps = [buffer.gather(1, flat + k).reshape_as(index) for k in (-1, 0, 1, 2)]
    p0, p1, p2, p3 = taps
    return p1 + 0.5 * frac * (p2 - p0 + frac * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3 + frac * (3.0 * (p1 - p2) + p3 - p0)))


@dataclass(frozen=True)
class PersonalMapping:
    """Moves a voice toward a target speaker (``models.voice_personal`` fits it): each voiced
    frame's log-f0 l becomes ``target_mean + k (l - mean)``, where mean and spread are the
    input's own, learned as it plays (over confidently voiced frames: a running mean from
    ``prior_mean`` / ``prior_spread``, which count for ``prior_frames`` frames, until the prior
    and the input reach ``STATS_FRAMES``, then an exponential average over that many; the prior
    is the source speaker's when one was given, else the target's, so that nothing moves until
    the input is heard) and
    k = target_spread / spread (within ``RANGE_LIMITS``); the formants move by
    ``FORMANT_PER_PITCH`` x the difference of the means; then ``eq`` (a minimum-phase FIR, or
    none) shapes the long-term spectrum. Means are natural logs of Hz, spreads their standard
    deviations (estimated as ``SPREAD_PER_DEVIATION`` x the mean absolute deviation, each
    deviation capped at ``DEVIATION_CAP_ST``, so that octave slips do not inflate them). The
    pitch and formant knobs add to all this."""

    target_mean: float
    target_spread: float
    prior_mean: float
    prior_spread: float
    eq: tuple[float, ...] | None = None
    prior_frames: float = PRIOR_FRAMES_NO_SOURCE

    def summary(self) -> dict:
        semitones = 12 / math.log(2)
        return {"target_f0_hz": round(math.exp(self.target_mean), 1),
                "target_spread_st": round(self.target_spread * semitones, 2),
                "prior_f0_hz": round(math.exp(self.prior_mean), 1),
                "prior_spread_st": round(self.prior_spread * semitones, 2),
                "prior_frames": self.prior_frames, "eq_taps": len(self.eq) if self.eq is not None else 0}


def _running_average(previous: torch.Tensor, values: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """m[n] = m[n-1] + alpha[n] (values[n] - m[n-1]) at every frame of ``values [B, n]``, from
    ``previous [B, 1]`` (alpha < 1); in closed form (no loop over frames), so any block size gives
    the same."""
    log_keep = torch.cumsum(torch.log1p(-alpha), dim=1)
    keep = torch.exp(log_keep)
    return keep * (previous + torch.cumsum(alpha * values / keep, dim=1))


class VoiceModel(nn.Module):
    """``step(audio [B, 1, T], params [B, P], *state)`` with T a multiple of HOP.
    params: [pitch semitones, formant semitones]. ``personal`` (shift mode only): a personal
    voice's mapping (``PersonalMapping``); without it the graph is the shipped styles'."""

    def __init__(self, mode: str = "shift", personal: PersonalMapping | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown voice mode '{mode}' (modes: {', '.join(MODES)})")
        if personal is not None and mode != "shift":
            raise ValueError("a personal mapping works in shift mode only")
        self.arch = ARCH
        self.mode = mode
        self.personal = personal
        self.config = {"mode": mode, **({"personal": personal.summary()} if personal is not None else {})}
        if personal is not None and personal.eq is not None:
            # conv1d correlates: the kernel is the FIR reversed
            self.register_buffer("eq_kernel", torch.tensor(personal.eq[::-1], dtype=torch.float32).view(1, 1, -1),
                                 persistent=False)
        self.num_params = 2
        self.tracker = PitchLoudness(subharmonic_ratio=SUBHARMONIC_RATIO)
        self.register_buffer("grain_offsets", torch.arange(2 * HALF_OUT, dtype=torch.float64), persistent=False)
        self.register_buffer("grain_steps", torch.arange(2 * HALF_OUT), persistent=False)
        self.register_buffer("mark_slots", torch.arange(MARKS_PER_FRAME, dtype=torch.float64), persistent=False)

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        """All zeros: the engine starts (and resets) every style's state at zero."""
        fir, history = PitchLoudness.initial_state(batch)
        personal = []
        if self.personal is not None:
            # the input's log-f0 mean and spread, less the prior's (high and low parts), and how
            # many voiced frames have been heard (at most STATS_FRAMES)
            personal.append(torch.zeros(batch, 5))
            if self.personal.eq is not None:
                personal.append(torch.zeros(batch, len(self.personal.eq) - 1))  # the EQ's input history
        return [*self._base_state(batch, fir, history), *personal]

    @staticmethod
    def _base_state(batch, fir, history) -> list[torch.Tensor]:
        return [
            fir, history,
            torch.zeros(batch, HISTORY),  # input history
            torch.zeros(batch, 2 * HALF_OUT + 1),  # overlap-add accumulator: the output's future
            torch.zeros(batch, 2 * (PHASE_FRAMES + 1)),  # analysis phase at the last frame edges, less _ramp()
            torch.zeros(batch, 2),  # synthesis phase, cycles in [0, 1), high and low parts
            torch.zeros(batch, SMOOTHING - 1 + SYNTHESIS_DELAY),  # the tracker's recent periods (0: none yet, unvoiced)
            torch.zeros(batch, GATE_FRAMES - 1),  # recent voicing targets
            torch.zeros(batch, 1),  # frame counter (randomness)
            torch.zeros(batch, 1),  # the period of the last confidently voiced frame (0: none)
            torch.zeros(batch, 1),  # frames since then
            torch.zeros(batch, LEVEL_FRAMES),  # the level keeper: the voicing of the last frames
            torch.zeros(batch, 2 * (LEVEL_FRAMES - 1)),  # the input and output power of the frames before
            torch.zeros(batch, 2),  # its smoothed input and output power
            torch.zeros(batch, 1),  # and the gain it applied at the last frame's end, less one
        ]

    @staticmethod
    def _continuation(period, confidence, strong, held, since):
        """Frames that continue a voiced stretch although the tracker is less sure (a voiced
        consonant, a breathy or creaky vowel): confidence above CONTINUE_CONFIDENCE and a period
        within CONTINUE_SEMITONES of the last confidently voiced frame's, at most CONTINUE_FRAMES
        after it. Noise has no such continuity. Returns the mask and the new (held, since)."""
        frames = period.shape[1]
        index = torch.arange(1, frames + 1, device=period.device)
        last = last_marked(strong)  # 1 + the last strong frame so far, 0: none
        held_now = torch.cat([held, period], dim=1).gather(1, last)
        since_now = torch.where(last > 0, index[None, :] - last, since.to(torch.int64) + index[None, :]).to(period.dtype)
        close = torch.abs(torch.log2(period / held_now.clamp(min=1.0))) < CONTINUE_SEMITONES / 12
        continued = (confidence > CONTINUE_CONFIDENCE) & close & (since_now <= CONTINUE_FRAMES) & (held_now > 0)
        return continued, held_now[:, -1:], since_now[:, -1:].clamp(max=1000.0)

    def _voicing(self, confidence, continued, gates):
        """Voicing target per frame (0..1 from the confidence; 1 where a stretch continues), its
        average over GATE_FRAMES, and whether the frame LAG before is voiced."""
        target = ((confidence - VOICED_CONFIDENCE[0]) / (VOICED_CONFIDENCE[1] - VOICED_CONFIDENCE[0])).clamp(0.0, 1.0)
        target = torch.where(continued, torch.ones_like(target), target)
        frames = target.shape[1]
        joined = torch.cat([gates, target], dim=1)
        smooth = _windows(joined, GATE_FRAMES, frames).sum(dim=2) / GATE_FRAMES
        return target, smooth, joined[:, frames:], joined[:, :frames] > 0.0

    @staticmethod
    def _ramp(device) -> torch.Tensor:
        """The analysis phase at the frame edges kept in the state while nothing is voiced:
        stored relative to it, the all-zero state is the start (as every style's state)."""
        return (torch.arange(-PHASE_FRAMES, 1, dtype=torch.float64, device=device)[None, :] - LAG) * HOP / UNVOICED_PERIOD

    @staticmethod
    def _phase_at(bounds: torch.Tensor, times: torch.Tensor, with_period: bool = False):
        """The analysis phase at input ``times`` (relative to the block's start), interpolated
        between the frame edges in ``bounds [B, PHASE_FRAMES + 1 + n]`` (and the analysis period
        there, in samples)."""
        position = times / HOP + PHASE_FRAMES + LAG
        edge = torch.floor(position).clamp(0, bounds.shape[1] - 2)
        flat = edge.to(torch.int64).flatten(1)
        lower = bounds.gather(1, flat).reshape_as(edge)
        upper = bounds.gather(1, flat + 1).reshape_as(edge)
        phase = lower + (upper - lower) * (position - edge)
        return (phase, HOP / (upper - lower)) if with_period else phase

    def step(self, audio: torch.Tensor, params: torch.Tensor, *state: torch.Tensor):
        fir, pitch_history, history, carry, bounds_state, synth_phase, recent, gates, counter, held, since = state[:11]
        level_voicing, level_frames, level_powers, level_gain = state[11:15]
        personal_state = state[15:]
        x = audio[:, 0]
        batch, samples = x.shape
        frames = samples // HOP
        f0_hz, confidence, loudness, fir, pitch_history = self.tracker.step(x, fir, pitch_history)
        period_raw = (RATE / f0_hz).clamp(MIN_PERIOD, MAX_PERIOD)
        audible = (loudness > LEVEL_GATE_DB).to(confidence.dtype)
        strong = confidence * audible > VOICED_CONFIDENCE[0]
        continued, held, since = self._continuation(period_raw, confidence * audible, strong, held, since)
        target, voicing, gates, voiced_lagged = self._voicing(confidence * audible, continued, gates)
        voiced = target > 0.0
        period_in = torch.where(voiced, period_raw, torch.full_like(f0_hz, float(UNVOICED_PERIOD)))

        # the period both phases follow: the median of the tracker's over SMOOTHING frames (no
        # octave jump of one or two frames gets through), known LAG frames after the fact
        unset = torch.full_like(recent, float(UNVOICED_PERIOD))
        periods = torch.cat([torch.where(recent > 0, recent, unset), period_in], dim=1)
        recent = periods[:, -(SMOOTHING - 1 + SYNTHESIS_DELAY) :]
        windows = _windows(periods, SMOOTHING, frames + SYNTHESIS_DELAY)
        medians = torch.sort(windows, dim=2).values[:, :, LAG].to(torch.float64)
        smoothed = medians[:, SYNTHESIS_DELAY:]  # frames -LAG .. n-1-LAG
        # the same, SYNTHESIS_DELAY frames earlier; at a voiced onset, where that is still the
        # unvoiced placeholder, the newest (so the first grains are not held back)
        earlier = medians[:, :frames]
        source_period = torch.where(earlier == UNVOICED_PERIOD, smoothed, earlier)

        # analysis phase at every frame edge, from PHASE_FRAMES frames before the last edge it
        # reached (LAG frames before this block) to LAG frames before this block's end
        ramp = self._ramp(x.device)
        old_bounds = _join(bounds_state.reshape(batch, PHASE_FRAMES + 1, 2)) + ramp
        bounds = torch.cat([old_bounds, old_bounds[:, -1:] + torch.cumsum(HOP / smoothed, dim=1)], dim=1)
        edge_times = (torch.arange(bounds.shape[1], dtype=torch.float64, device=x.device) - PHASE_FRAMES - LAG) * HOP

        # output periods (from the input period where this frame's grains are cut, which the
        # analysis phase reached SYNTHESIS_DELAY frames ago) and the synthesis marks
        # (generation times) in each frame
        shift = torch.pow(2.0, params[:, :1].to(torch.float64) / 12.0)
        weight = voicing.to(torch.float64)
        frame_index = counter.to(torch.float64) + torch.arange(frames, dtype=torch.float64, device=x.device)[None, :]
        if self.mode == "robot":
            robot = RATE / (ROBOT_HZ * shift)
            period_out = torch.exp((1 - weight) * torch.log(source_period) + weight * torch.log(robot.expand_as(source_period)))
        elif self.mode == "whisper":
            jitter = WHISPER_PERIOD / shift * (0.5 + _hash_unit(frame_index))  # pitch: the grains' density
            period_out = torch.exp((1 - weight) * torch.log(source_period) + weight * torch.log(jitter))
        else:
            if self.personal is not None:
                shift, formant_st, statistics = self._personal_shift(source_period, weight, personal_state[0])
                shift = shift * torch.pow(2.0, params[:, :1].to(torch.float64) / 12.0)
            period_out = source_period / torch.pow(shift, weight)
        # exactly the input's period where nothing is voiced: the unvoiced marks then fall on
        # exact multiples of half a cycle, so no rounding can move one across a block's edge
        period_out = torch.where(weight > 0, period_out, source_period).clamp(min=MIN_OUTPUT_PERIOD)
        rate = HOP / period_out  # cycles per frame
        start_phase = _join(synth_phase) + torch.cumsum(rate, dim=1) - rate  # at each frame's start
        end_phase = start_phase[:, -1:] + rate[:, -1:]
        synth_phase = _split(end_phase - torch.floor(end_phase)).reshape(batch, 2)
        crossing = torch.ceil(start_phase)[..., None] + self.mark_slots  # [B, n, K]: whole cycles in [start, end)
        valid = crossing < (start_phase + rate)[..., None]
        generated = (torch.arange(frames, dtype=torch.float64, device=x.device)[None, :, None] * HOP
                     + (crossing - start_phase[..., None]) / rate[..., None] * HOP)
        centre = (generated + HALF_OUT).flatten(1)  # output time of each grain's centre, [B, M]
        valid = valid.flatten(1)

        # each grain's two analysis marks: the whole cycles of the analysis phase either side of
        # its value at centre - LATENCY, cross-faded by where the phase lies between them (a
        # voiced grain is the input interpolated between two periods, so the output changes from
        # one period to the next as smoothly as the input does, rather than repeating or skipping
        # a whole period); the later mark only as far as the grain's read-ahead allows (for long
        # periods it takes over later, and alone: the delay is then up to one period longer);
        # unvoiced: the earlier mark alone, which at no shift is exactly at centre - LATENCY
        formant = torch.pow(2.0, params[:, 1:2].to(torch.float64) / 12.0)
        if self.personal is not None:  # per grain, from its frame's
            formant = (formant * torch.pow(2.0, formant_st / 12.0)).repeat_interleave(MARKS_PER_FRAME, dim=1)
        longest_in = torch.minimum(torch.full_like(formant, float(HALF_IN)), HALF_OUT * formant)
        grain_voiced = voiced_lagged.repeat_interleave(MARKS_PER_FRAME, dim=1)
        wanted = centre - LATENCY
        phase_wanted, period_wanted = self._phase_at(bounds, wanted, with_period=True)
        slack = (HALF_IN - torch.minimum(period_wanted, longest_in)) / period_wanted
        reach = slack.clamp(MIN_REACH, 1.0)  # cycles the later mark may lie ahead of the phase
        earlier_cycle = torch.floor(phase_wanted)
        later = ((phase_wanted - earlier_cycle - (1.0 - reach)) / reach).clamp(0.0, 1.0)  # the later mark's weight
        cycles = torch.stack([earlier_cycle, earlier_cycle + 1.0], dim=2)  # [B, M, 2]
        below = (bounds[:, None, None, :] <= cycles[..., None]).sum(dim=3) - 1
        mark_edge = below.clamp(0, bounds.shape[1] - 2).flatten(1)
        lower = bounds.gather(1, mark_edge).reshape_as(cycles)
        upper = bounds.gather(1, mark_edge + 1).reshape_as(cycles)
        marks = edge_times[mark_edge].reshape_as(cycles) + (cycles - lower) / (upper - lower) * HOP  # input times
        periods = HOP / (upper - lower)
        # an unvoiced grain whose earlier mark lies where the analysis phase ran unvoiced too is
        # cut at its own time (centre - LATENCY), which at no shift is that mark: where the voicing
        # gate opens, the synthesis already runs at the shifted spacing while the grains are still
        # unvoiced, and the earlier mark then lay up to UNVOICED_PERIOD samples back, in the
        # silence before the voice (a 110 Hz tone raised 6 semitones came out 1278 samples late)
        own_time_mark = torch.abs(periods[..., 0] - UNVOICED_PERIOD) < 1e-6
        own_time = ~grain_voiced & own_time_mark
        marks = torch.stack([torch.where(own_time, wanted, marks[..., 0]), marks[..., 1]], dim=2)
        # the later mark only where the grain's own frame has it in full: its whole grain is in the
        # input, and its cycle within the analysis phase known then (LAG frames before the frame's
        # end), so that any block size reads the same input and the same marks
        frame_end = (torch.floor(generated / HOP) + 1).flatten(1) * HOP
        known = self._phase_at(bounds, frame_end - LAG * HOP)
        whole = marks[..., 1] + torch.minimum(periods[..., 1], longest_in) <= frame_end - 3
        readable = whole & (cycles[..., 1] <= known)
        later = torch.where(grain_voiced & readable, later, torch.zeros_like(later))  # unvoiced: the earlier alone
        # a voiced grain whose earlier mark still lies where the analysis ran unvoiced (a voiced onset's
        # first grains): the later mark alone, where it is readable, rather than a fade from the silence
        later = torch.where(grain_voiced & readable & own_time_mark, torch.ones_like(later), later)
        analysis_period = periods[..., 0] + later * (periods[..., 1] - periods[..., 0])
        last_mark = torch.where(later > 0, marks[..., 1], marks[..., 0])  # the latest input a grain reads is around it

        # voiced: one analysis period either side (PSOLA); unvoiced: one output spacing either
        # side, so the windows add up to exactly one whatever the formant shift. Never past the
        # end of the grain's own frame (so any block size reads the same input).
        in_frame = frame_end - last_mark - 3
        half_in = torch.minimum(torch.minimum(torch.where(grain_voiced, analysis_period, UNVOICED_PERIOD * formant), longest_in), in_frame)
        if self.mode == "whisper":  # half a period, and the whole one its level is measured on
            whole_out = half_in / formant
            half_in = torch.minimum(torch.minimum(analysis_period * (1 - 0.5 * weight.repeat_interleave(MARKS_PER_FRAME, dim=1)), longest_in), in_frame)
        half_out = half_in / formant
        spacing = period_out.repeat_interleave(MARKS_PER_FRAME, dim=1)
        gain = torch.sqrt(spacing / half_out).clamp(max=MAX_GAIN) * valid.to(torch.float64)
        if self.mode == "whisper":
            slot = frame_index.repeat_interleave(MARKS_PER_FRAME, dim=1) * MARKS_PER_FRAME + self.mark_slots.repeat(frames)[None, :]
            # random signs, half of them flipped where fully voiced: as the voicing fades in, more of the
            # grains are flipped (a share of weight / 2), each whole, rather than every other grain faded
            # through zero to its flipped sign (which left a voiced onset 8 dB quiet for 7 ms at 90 Hz)
            flipped = _hash_unit(slot + 7919.0) < 0.5 * weight.repeat_interleave(MARKS_PER_FRAME, dim=1)
            gain = gain * torch.where(flipped, -1.0, 1.0).to(torch.float64)
        counter = torch.remainder(counter + frames, 1048576.0)

        # the grains, overlap-added into the output's future
        first = torch.floor(centre) - HALF_OUT + 1  # each grain's first output time
        lead = first - centre  # its offset from the grain's centre, in (-HALF_OUT, 1 - HALF_OUT]
        offsets = lead.to(x.dtype)[..., None] + self.grain_offsets.to(x.dtype)
        hann = _hann(offsets, half_out.to(x.dtype))
        buffer = torch.cat([history, x], dim=1)
        # buffer index read at the grain's first sample, from either mark: [B, M, 2]
        start = marks + (formant * lead + HISTORY)[..., None]
        both = _cubic(buffer, start[..., None] + (formant[..., None] * self.grain_offsets)[:, :, None, :])
        weight_later = later.to(x.dtype)[..., None]
        read = both[:, :, 0] + weight_later * (both[:, :, 1] - both[:, :, 0])
        if self.mode == "whisper":
            gain = gain * self._whisper_level(read, hann, offsets, half_out, whole_out, weight)
        grains = read * (hann * gain.to(x.dtype)[..., None])
        accumulator = torch.cat([carry, torch.zeros_like(x)], dim=1)
        index = (first.to(torch.int64)[..., None] + self.grain_steps).clamp(0, accumulator.shape[1] - 1).flatten(1)
        accumulator = accumulator.scatter_add(1, index, grains.flatten(1))
        out, level_voicing, level_frames, level_powers, level_gain = self._keep_level(
            accumulator[:, :samples], buffer, voicing.to(x.dtype), level_voicing, level_frames, level_powers, level_gain)
        carry = accumulator[:, samples:]
        history = buffer[:, -HISTORY:]
        bounds = bounds[:, -(PHASE_FRAMES + 1) :]
        bounds = bounds - torch.floor(bounds[:, :1]) - ramp
        personal = []
        if self.personal is not None:
            personal.append(statistics)
            if self.personal.eq is not None:
                joined = torch.cat([personal_state[1], out], dim=1)
                out = nn.functional.conv1d(joined[:, None, :], self.eq_kernel)[:, 0, :]
                personal.append(joined[:, joined.shape[1] - (len(self.personal.eq) - 1):])  # (a 1-tap EQ keeps nothing)
        return (out[:, None, :], fir, pitch_history, history, carry, _split(bounds).flatten(1),
                synth_phase, recent, gates, counter, held, since, level_voicing, level_frames, level_powers, level_gain, *personal)

    @staticmethod
    def _keep_level(out, buffer, voicing, recent_voicing, recent_frames, powers, last_gain):
        """The output of voiced sound brought to the level of the input it was made from.

        A raised voice loses the input's energy below its new f0, and grains that overlap at a
        spacing other than the period add partly in power: ``feminine``'s knobs at pitch +6 made
        flite's rms 2.9 LU quieter, +12 made slt 6.4 LU quieter. Per frame, the power of the
        output and of the input LATENCY earlier (what its grains were read from), each averaged
        over the voiced frames (a one-pole average of LEVEL_SECONDS, weighted by the voicing of
        the most voiced frame whose grains the output frame holds, so unvoiced frames leave it
        as it is);
        the gain is the square root of their ratio, within LEVEL_RANGE, applied in proportion to
        that voicing (so unvoiced sound still passes exactly) and ramped over each frame."""
        batch, samples = out.shape
        frames = samples // HOP
        voicing_all = torch.cat([recent_voicing, voicing], dim=1)
        # an output frame holds grains made in it and the LEVEL_FRAMES - 1 frames before
        weight = _windows(voicing_all[:, 1:], LEVEL_FRAMES, frames).mean(dim=2)
        # the input each output frame was read from: LATENCY earlier, and a frame later (a voiced
        # onset's grains come up to 100 samples before LATENCY); each power a box average over
        # LEVEL_FRAMES frames (1024 samples: several periods of any voice, so a period that does not
        # divide a frame does not make the gain wobble from frame to frame)
        source = buffer[:, HISTORY - LATENCY + HOP : -(LATENCY - HOP)]  # buffer: HISTORY samples, then the block
        now = torch.stack([(source * source).reshape(batch, frames, HOP).mean(dim=2),
                           (out * out).reshape(batch, frames, HOP).mean(dim=2)], dim=2)
        history = torch.cat([recent_frames.reshape(batch, LEVEL_FRAMES - 1, 2), now], dim=1)
        power = _windows(history, LEVEL_FRAMES, frames).mean(dim=2).to(torch.float64)
        # S[k] = (1 - c[k]) S[k-1] + c[k] p[k], in closed form over the block
        rate = LEVEL_RATE * weight.to(torch.float64)
        decayed = torch.cumsum(torch.log1p(-rate), dim=1)  # [B, n]
        index = torch.arange(frames, device=out.device)
        later = index[None, :, None] >= index[None, None, :]  # [1, k, i]: i <= k
        span = torch.where(later, decayed[:, :, None] - decayed[:, None, :], torch.full_like(later, -1e30, dtype=torch.float64))
        carried = torch.exp(decayed)[..., None] * powers.to(torch.float64)[:, None, :]
        smoothed = carried + torch.einsum("bki,bic->bkc", torch.exp(span), rate[..., None] * power)
        gain = torch.sqrt((smoothed[..., 0] + 1e-10) / (smoothed[..., 1] + 1e-10)).clamp(*LEVEL_RANGE)
        gain = 1 + weight.to(torch.float64) * (gain - 1)
        previous = torch.cat([last_gain.to(torch.float64) + 1, gain[:, :-1]], dim=1)
        ramp = (torch.arange(HOP, device=out.device, dtype=torch.float64) + 1) / HOP
        per_sample = previous[..., None] + (gain - previous)[..., None] * ramp
        out = out * per_sample.flatten(1).to(out.dtype)
        return (out, voicing_all[:, -LEVEL_FRAMES:],
                history[:, -(LEVEL_FRAMES - 1) :].flatten(1), smoothed[:, -1].to(powers.dtype),
                (gain[:, -1:] - 1).to(last_gain.dtype))

    @staticmethod
    def _whisper_level(read, hann, offsets, half_out, whole_out, weight):
        """Per grain, the gain that gives a whisper grain (half an analysis period either side) the
        energy a grain of its length has on average over the period. How much of the period's
        energy half a period holds depends on where the mark falls in the cycle (on the pulse or
        between pulses), and the marks' place in the cycle is wherever the analysis phase began,
        so without it a steady tone's level depended on when it began (up to 2.2 dB apart at 90
        Hz for two starting times 50 ms apart; with the old hash 110 Hz came out 9.4 and 1.7 dB
        quiet). The period's energy is read through a Hann window one period either side
        (``whole_out``): such windows a period apart add up to one, so it does not depend on the
        mark's place. Blended in with the voicing (1 where unvoiced)."""
        grain = read * hann
        # one period's energy, wherever the mark is: Hann windows one period apart add up to one
        period_energy = (read * read * _hann(offsets, whole_out.to(read.dtype))).sum(dim=2)
        # what the grain's energy should be for the whisper to keep the voice's level: grains with random
        # signs add in power, so each brings its length's share of the period's energy (a Hann grain's
        # own energy is 3/4 of that on average: without this the whisper was 1.2 dB quieter)
        expected = period_energy * (half_out / whole_out).to(read.dtype)
        energy = (grain * grain).sum(dim=2)
        level = torch.sqrt((expected + 1e-12) / (energy + WHISPER_FLOOR * expected + 1e-12)).clamp(max=WHISPER_MAX_LEVEL)
        blend = weight.repeat_interleave(MARKS_PER_FRAME, dim=1)
        return 1 + blend * (level.to(blend.dtype) - 1)

    def _personal_shift(self, source_period: torch.Tensor, weight: torch.Tensor, statistics: torch.Tensor):
        """Per frame: the pitch ratio and the formant shift (semitones) that move the input toward
        the target, and the input's updated statistics (state)."""
        mapping = self.personal
        log_f0 = torch.log(RATE / source_period)
        relative = log_f0 - mapping.prior_mean
        sure = ((weight >= 1.0) & (source_period != UNVOICED_PERIOD)
                & (source_period >= RATE / STATS_MAX_F0_HZ)).to(torch.float64)
        stats = _join(statistics[:, :4].reshape(-1, 2, 2))
        heard = statistics[:, 4:5].to(torch.float64) + torch.cumsum(sure, dim=1)  # voiced frames so far
        alpha = sure / (mapping.prior_frames + heard.clamp(max=STATS_FRAMES - mapping.prior_frames))
        first = _running_average(stats[:, :1], relative, alpha)
        mean = mapping.prior_mean + first
        # the spread from the mean absolute deviation, each capped (a tracker's octave slip
        # counts as a large deviation, not as 144 squared semitones)
        deviation = torch.abs(log_f0 - mean).clamp(max=DEVIATION_CAP_ST * math.log(2) / 12)
        second = _running_average(stats[:, 1:2], deviation * SPREAD_PER_DEVIATION - mapping.prior_spread, alpha)
        spread = (second + mapping.prior_spread).clamp(min=MIN_SPREAD_ST * math.log(2) / 12)
        stretch = (mapping.target_spread / spread).clamp(*RANGE_LIMITS)
        wanted = mapping.target_mean + stretch * (log_f0 - mean)
        shift = torch.exp((wanted - log_f0).clamp(-math.log(2), math.log(2)))
        formant_st = FORMANT_PER_PITCH * 12 / math.log(2) * (mapping.target_mean - mean)
        formant_st = formant_st.clamp(FORMANT["min"], FORMANT["max"])
        new_state = torch.cat([_split(torch.cat([first[:, -1:], second[:, -1:]], dim=1)).reshape(-1, 4),
                               heard[:, -1:].clamp(max=STATS_FRAMES).to(statistics.dtype)], dim=1)
        return shift, formant_st, new_state

    def forward(self, audio: torch.Tensor, params: torch.Tensor, chunk: int = 64 * HOP) -> torch.Tensor:
        """The streaming path over a whole signal from zero state, ``chunk`` samples a call."""
        return stream(self, audio, params, chunk)
