/* StyleRack's native audio core: what the audio callback runs, with no Python on it.
 *
 * The callback (sr_callback, handed to PortAudio as a function pointer) deinterleaves the
 * input, cleans and meters it, keeps the dry delay line, feeds each playing style's input
 * ring and wakes the style worker (a semaphore post; it never waits), then mixes each
 * style's wet output with its aligned dry signal, crossfades between styles, applies the
 * output gain and the safety limiter, meters, taps a copy for recording and interleaves.
 * It never allocates, locks or calls back into Python: every buffer is made by
 * sr_engine_new / sr_ring_new, and other threads talk to it through SPSC rings, atomic
 * pointers and plain numbers.
 *
 * Audio in rings and scratch buffers is planar: [channels][frames] float32.
 */
#ifndef STYLERACK_CORE_H
#define STYLERACK_CORE_H

#include <stdint.h>

#define SR_EVENT_SLOTS 64
#define SR_TIMING_SLOTS 2048
#define SR_MAX_STYLE_CHANNELS 8

/* Which smoothed control a target applies to. */
#define SR_INPUT_GAIN 0
#define SR_OUTPUT_GAIN 1
#define SR_WET_AMOUNT 2

typedef struct sr_ring sr_ring;
/* A mono clip looped as the input instead of the device's (the demo): the caller keeps it alive. */
typedef struct sr_demo {
    const float *clip;
    int64_t frames;
} sr_demo;
typedef struct sr_slot sr_slot;
typedef struct sr_engine sr_engine;

/* Counters: one writer each (the callback), read by any thread without locks. */
typedef struct sr_stats {
    int64_t callbacks;
    int64_t xruns;               /* PortAudio's status flags (under/overflow) */
    int64_t late_blocks;         /* wet not there in time: crossfaded to the aligned dry */
    int64_t startup_late_blocks; /* the same, within the grace callbacks after a stream starts */
    int64_t over_budget;         /* callbacks that took longer than their block lasts */
    int64_t callback_errors;     /* blocks refused (larger than the engine was built for) */
    int64_t non_finite_inputs;
    int64_t non_finite_outputs;
    int64_t tap_dropped_frames;  /* recording fell behind: frames not recorded */
    int64_t input_dropped_frames;/* a style's input ring was full (its worker stalled) */
    int64_t last_post_ns;        /* CLOCK_MONOTONIC time of the last worker wake-up */
    float input_peak, input_rms, output_peak, output_rms;
    int64_t xrun_at[SR_EVENT_SLOTS];  /* callback numbers of the first xruns */
    int64_t late_at[SR_EVENT_SLOTS];  /* ... and of the first late blocks */
    int64_t callback_ns[SR_TIMING_SLOTS]; /* the last callbacks' own durations */
    int64_t timings;
} sr_stats;

/* ---- SPSC ring of planar float32 audio ----------------------------------------------- */
sr_ring *sr_ring_new(int channels, int64_t capacity_frames);
void sr_ring_delete(sr_ring *ring);
int64_t sr_ring_available(const sr_ring *ring);
int64_t sr_ring_free(const sr_ring *ring);
/* src: channels rows of `frames`, row k at src + k * stride. Returns 0, or -1 if it does not fit. */
int sr_ring_write(sr_ring *ring, const float *src, int64_t stride, int64_t frames);
int sr_ring_write_value(sr_ring *ring, float value, int64_t frames);
/* Returns 0, or -1 if fewer than `frames` are available. */
int sr_ring_read(sr_ring *ring, float *dst, int64_t stride, int64_t frames);
int64_t sr_ring_skip(sr_ring *ring, int64_t frames);

/* ---- the engine -------------------------------------------------------------------- */
sr_engine *sr_engine_new(int sample_rate, int in_channels, int out_channels, int max_block_frames,
                         int max_latency_frames, int crossfade_frames, int conceal_frames);
void sr_engine_delete(sr_engine *engine);
sr_stats *sr_engine_stats(sr_engine *engine);

/* A style's place in the engine: its input ring (style channels, callback -> worker), its
 * output ring (style channels, worker -> callback) and its latency in device frames. */
sr_slot *sr_slot_new(sr_engine *engine, sr_ring *input, sr_ring *output, int channels, int latency_frames);
void sr_slot_delete(sr_slot *slot);

/* Control side (any thread but the audio thread). */
void sr_engine_set_target(sr_engine *engine, int which, float value);
void sr_engine_jump_to_targets(sr_engine *engine);   /* only while no audio runs */
/* Late blocks within the next `callbacks` are counted apart (a stream's first passes are cold). */
void sr_engine_set_startup_grace(sr_engine *engine, int64_t callbacks);
void sr_engine_set_first(sr_engine *engine, sr_slot *slot); /* only before the first block */
/* Queue a slot to crossfade in; returns the one queued before that never started (or NULL). */
sr_slot *sr_engine_swap_pending(sr_engine *engine, sr_slot *slot);
sr_slot *sr_engine_current(sr_engine *engine);
sr_slot *sr_engine_incoming(sr_engine *engine);
sr_slot *sr_engine_pending(sr_engine *engine);
sr_slot *sr_engine_take_retired(sr_engine *engine);   /* the callback's retired slot, once */
void sr_engine_set_tap(sr_engine *engine, sr_ring *tap);  /* NULL: no recording */
void sr_engine_set_demo(sr_engine *engine, const sr_demo *demo); /* NULL: the device input */

/* The style worker's wait: until the callback posts (1) or timeout_us passes (0). */
int sr_engine_wait_work(sr_engine *engine, int64_t timeout_us);
void sr_engine_wake_worker(sr_engine *engine);

/* Audio side: one block in two halves (an offline caller may run the styles in between).
 * in: interleaved [frames][in_channels] (NULL: the demo clip); out: [frames][out_channels]. */
void sr_engine_input(sr_engine *engine, const float *in, int frames);
void sr_engine_output(sr_engine *engine, float *out, int frames);

/* The PortAudio stream callback (PaStreamCallback); userdata is the sr_engine. */
int sr_callback(const void *input, void *output, unsigned long frames, const void *time_info,
                unsigned long status_flags, void *userdata);

/* ---- one slot of a rack (run by the style worker, not the callback) ------------------
 * A rack runs its styles in series on the worker thread. Each slot mixes its style's wet
 * with its own input delayed by the style's latency, so any slot mix is free of comb
 * filtering. Buffers are planar [channels][frames] with a row stride of `frames`. */
typedef struct sr_chain_slot sr_chain_slot;
/* ramp_frames: how many frames a mix change from 0 to 1 takes (linear). */
sr_chain_slot *sr_chain_slot_new(int channels, int latency_frames, int max_frames, int ramp_frames);
void sr_chain_slot_delete(sr_chain_slot *slot);
void sr_chain_slot_set_mix(sr_chain_slot *slot, float target);  /* any thread */
void sr_chain_slot_jump(sr_chain_slot *slot);                   /* mix at its target now */
void sr_chain_slot_reset(sr_chain_slot *slot);                  /* clear the delay line */
float sr_chain_slot_take_peak(sr_chain_slot *slot);             /* peak since the last take */
/* x (rack channels) -> the style's input (style channels: the same, or mono = the average). */
void sr_chain_slot_feed(const sr_chain_slot *slot, const float *x, float *style_in, int style_channels, int frames);
/* out = delayed x + mix * (wet - delayed x); a mono wet serves every channel. */
void sr_chain_slot_mix(sr_chain_slot *slot, const float *x, const float *wet, int wet_channels, float *out, int frames);

/* ---- streaming polyphase resampler (run by the style worker or an offline render) --------
 * Converts by up/down (L/M, in lowest terms) with a linear-phase FIR prototype of `taps`
 * coefficients at the rate L * input rate (the caller designs it; gain L). Output frame n
 * is the filter at time n * M on that grid, so its delay is exactly (taps - 1) / 2 grid
 * samples, and it has no look-ahead: every input frame makes its outputs at once. Planar
 * buffers; no allocation after sr_resampler_new. */
typedef struct sr_resampler sr_resampler;
sr_resampler *sr_resampler_new(int channels, int up, int down, const float *prototype, int taps, int max_in_frames);
void sr_resampler_delete(sr_resampler *r);
void sr_resampler_reset(sr_resampler *r);
/* How many frames the next `in_frames` input frames make. */
int64_t sr_resampler_output_frames(const sr_resampler *r, int64_t in_frames);
/* in: channels rows of in_frames (row k at in + k * in_stride), in_frames <= max_in_frames;
 * out: rows of out_stride, room for sr_resampler_output_frames(in_frames). Returns frames written. */
int64_t sr_resampler_process(sr_resampler *r, const float *in, int64_t in_stride, int64_t in_frames,
                             float *out, int64_t out_stride);

#endif
