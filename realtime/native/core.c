/* StyleRack's native audio core (see core.h). C99 + GCC/Clang __atomic builtins, POSIX semaphores. */
#include "core.h"

#include <errno.h>
#include <math.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* The safety limiter is transparent below the knee (about -1 dBFS) and bends every louder
 * sample smoothly (tanh) into the headroom left below the ceiling, which it never exceeds. */
static const float LIMITER_KNEE = 0.891f;
static const float LIMITER_CEILING = 1.0f;
/* PortAudio status flags that mean an xrun. */
#define PA_XRUN_FLAGS 0xFul

/* ---- ring ------------------------------------------------------------------------------ */

struct sr_ring {
    float *data; /* [channels][capacity] */
    int channels;
    int64_t capacity;
    int64_t written; /* total frames ever written: producer stores, consumer loads */
    int64_t read;    /* total frames ever read or skipped: consumer stores, producer loads */
};

sr_ring *sr_ring_new(int channels, int64_t capacity_frames) {
    if (channels < 1 || capacity_frames < 1) return NULL;
    sr_ring *ring = calloc(1, sizeof *ring);
    if (!ring) return NULL;
    ring->data = calloc((size_t)channels * (size_t)capacity_frames, sizeof(float));
    if (!ring->data) { free(ring); return NULL; }
    ring->channels = channels;
    ring->capacity = capacity_frames;
    return ring;
}

void sr_ring_delete(sr_ring *ring) {
    if (!ring) return;
    free(ring->data);
    free(ring);
}

int64_t sr_ring_available(const sr_ring *ring) { return LOAD(&ring->written) - LOAD(&ring->read); }

int64_t sr_ring_free(const sr_ring *ring) { return ring->capacity - sr_ring_available(ring); }

int sr_ring_write(sr_ring *ring, const float *src, int64_t stride, int64_t frames) {
    int64_t written = __atomic_load_n(&ring->written, __ATOMIC_RELAXED);
    if (frames > ring->capacity - (written - LOAD(&ring->read))) return -1;
    int64_t start = written % ring->capacity;
    int64_t first = frames < ring->capacity - start ? frames : ring->capacity - start;
    for (int c = 0; c < ring->channels; c++) {
        float *row = ring->data + (size_t)c * ring->capacity;
        const float *in = src + c * stride;
        memcpy(row + start, in, (size_t)first * sizeof(float));
        memcpy(row, in + first, (size_t)(frames - first) * sizeof(float));
    }
    STORE(&ring->written, written + frames);
    return 0;
}

int sr_ring_write_value(sr_ring *ring, float value, int64_t frames) {
    int64_t written = __atomic_load_n(&ring->written, __ATOMIC_RELAXED);
    if (frames > ring->capacity - (written - LOAD(&ring->read))) return -1;
    for (int c = 0; c < ring->channels; c++) {
        float *row = ring->data + (size_t)c * ring->capacity;
        for (int64_t i = 0; i < frames; i++) row[(written + i) % ring->capacity] = value;
    }
    STORE(&ring->written, written + frames);
    return 0;
}

int sr_ring_read(sr_ring *ring, float *dst, int64_t stride, int64_t frames) {
    int64_t read = __atomic_load_n(&ring->read, __ATOMIC_RELAXED);
    if (frames > LOAD(&ring->written) - read) return -1;
    int64_t start = read % ring->capacity;
    int64_t first = frames < ring->capacity - start ? frames : ring->capacity - start;
    for (int c = 0; c < ring->channels; c++) {
        const float *row = ring->data + (size_t)c * ring->capacity;
        float *out = dst + c * stride;
        memcpy(out, row + start, (size_t)first * sizeof(float));
        memcpy(out + first, row, (size_t)(frames - first) * sizeof(float));
    }
    STORE(&ring->read, read + frames);
    return 0;
}

int64_t sr_ring_skip(sr_ring *ring, int64_t frames) {
    int64_t read = __atomic_load_n(&ring->read, __ATOMIC_RELAXED);
    int64_t available = LOAD(&ring->written) - read;
    int64_t dropped = frames < available ? frames : available;
    STORE(&ring->read, read + dropped);
    return dropped;
}

/* ---- smoothed controls ----------------------------------------------------------------- */

typedef struct {
    float target;  /* written by the control side */
    float value;   /* the audio side's */
    float frames_per_tau;
} smooth_t;

/* Fill ramp[0..frames) from the last value towards the target (one-pole, linear within a block). */
static void smooth_ramp(smooth_t *s, float *ramp, int frames) {
    float start = s->value, target;
    __atomic_load(&s->target, &target, __ATOMIC_RELAXED);
    if (start == target) {
        for (int i = 0; i < frames; i++) ramp[i] = start;
        return;
    }
    float end = target + (start - target) * expf(-(float)frames / s->frames_per_tau);
    if (fabsf(end - target) < 1e-5f) end = target;
    s->value = end;
    float step = (end - start) / (float)frames;
    for (int i = 0; i < frames; i++) ramp[i] = start + step * (float)(i + 1);
}

/* ---- engine ---------------------------------------------------------------------------- */

struct sr_slot {
    sr_ring *input;
    sr_ring *output;
    int channels;
    int latency_frames;
    int64_t debt_frames;  /* wet frames that came (or will come) too late: skipped on arrival */
    float presence;       /* 1: the wet is heard; 0: replaced by the aligned dry */
    int64_t conceal_pos;  /* frames since the wet went missing */
    float *history;       /* [out_channels][conceal_frames]: the last wet frames heard */
    int64_t history_pos;
};

struct sr_engine {
    int sample_rate, in_channels, out_channels, max_block;
    int64_t line_capacity;
    int crossfade_frames, conceal_frames;
    sr_stats stats;
    smooth_t gain_in, gain_out, wet_amount;
    /* scratch, each [rows][max_block] */
    float *x, *dry, *dry_aligned, *style_in, *wet, *wet_mapped, *mix_a, *mix_b;
    float *ramp_in, *ramp_out, *ramp_wet;
    float *line; /* dry delay line [out_channels][line_capacity] */
    int64_t line_written;
    sr_slot *current, *incoming, *pending, *retired;
    int64_t preroll_frames, fade_done_frames;
    int64_t grace_until; /* late blocks up to this callback count are startup_late_blocks */
    sr_ring *tap;
    const sr_demo *demo;
    int64_t demo_pos; /* the callback's */
    sem_t work;
};

sr_stats *sr_engine_stats(sr_engine *e) { return &e->stats; }

static int64_t sr_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

sr_engine *sr_engine_new(int sample_rate, int in_channels, int out_channels, int max_block_frames,
                         int max_latency_frames, int crossfade_frames, int conceal_frames) {
    if (sample_rate < 1 || in_channels < 1 || out_channels < 1 || max_block_frames < 1 || max_latency_frames < 0)
        return NULL;
    sr_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->sample_rate = sample_rate;
    e->in_channels = in_channels;
    e->out_channels = out_channels;
    e->max_block = max_block_frames;
    e->line_capacity = (int64_t)max_latency_frames + max_block_frames;
    e->crossfade_frames = crossfade_frames > 0 ? crossfade_frames : 1;
    e->conceal_frames = conceal_frames > 0 ? conceal_frames : 1;
    int rows = in_channels > out_channels ? in_channels : out_channels;
    if (rows < SR_MAX_STYLE_CHANNELS) rows = SR_MAX_STYLE_CHANNELS;
    size_t block = (size_t)max_block_frames * sizeof(float);
    e->x = calloc((size_t)rows, block);
    e->dry = calloc((size_t)out_channels, block);
    e->dry_aligned = calloc((size_t)out_channels, block);
    e->style_in = calloc((size_t)rows, block);
    e->wet = calloc((size_t)rows, block);
    e->wet_mapped = calloc((size_t)out_channels, block);
    e->mix_a = calloc((size_t)out_channels, block);
    e->mix_b = calloc((size_t)out_channels, block);
    e->ramp_in = calloc(1, block);
    e->ramp_out = calloc(1, block);
    e->ramp_wet = calloc(1, block);
    e->line = calloc((size_t)out_channels * (size_t)e->line_capacity, sizeof(float));
    float per_tau = 0.01f * (float)sample_rate; /* 10 ms time constant */
    e->gain_in = (smooth_t){1.0f, 1.0f, per_tau};
    e->gain_out = (smooth_t){1.0f, 1.0f, per_tau};
    e->wet_amount = (smooth_t){1.0f, 1.0f, per_tau};
    if (sem_init(&e->work, 0, 0) != 0 || !e->x || !e->dry || !e->dry_aligned || !e->style_in || !e->wet ||
        !e->wet_mapped || !e->mix_a || !e->mix_b || !e->ramp_in || !e->ramp_out || !e->ramp_wet || !e->line) {
        sr_engine_delete(e);
        return NULL;
    }
    return e;
}

void sr_engine_delete(sr_engine *e) {
    if (!e) return;
    float *buffers[] = {e->x, e->dry, e->dry_aligned, e->style_in, e->wet, e->wet_mapped, e->mix_a,
                        e->mix_b, e->ramp_in, e->ramp_out, e->ramp_wet, e->line};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) free(buffers[i]);
    sem_destroy(&e->work);
    free(e);
}

sr_slot *sr_slot_new(sr_engine *e, sr_ring *input, sr_ring *output, int channels, int latency_frames) {
    if (!input || !output || channels < 1 || channels > SR_MAX_STYLE_CHANNELS || latency_frames < 0 ||
        latency_frames + e->max_block > e->line_capacity || input->channels != channels || output->channels != channels)
        return NULL;
    sr_slot *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->history = calloc((size_t)e->out_channels * (size_t)e->conceal_frames, sizeof(float));
    if (!s->history) { free(s); return NULL; }
    s->input = input;
    s->output = output;
    s->channels = channels;
    s->latency_frames = latency_frames;
    s->presence = 1.0f;
    return s;
}

void sr_slot_delete(sr_slot *slot) {
    if (!slot) return;
    free(slot->history);
    free(slot);
}

void sr_engine_set_target(sr_engine *e, int which, float value) {
    smooth_t *s = which == SR_INPUT_GAIN ? &e->gain_in : which == SR_OUTPUT_GAIN ? &e->gain_out : &e->wet_amount;
    __atomic_store(&s->target, &value, __ATOMIC_RELAXED);
}

void sr_engine_jump_to_targets(sr_engine *e) {
    e->gain_in.value = e->gain_in.target;
    e->gain_out.value = e->gain_out.target;
    e->wet_amount.value = e->wet_amount.target;
}

void sr_engine_set_startup_grace(sr_engine *e, int64_t callbacks) {
    __atomic_store_n(&e->grace_until, e->stats.callbacks + callbacks, __ATOMIC_RELEASE);
}

void sr_engine_set_first(sr_engine *e, sr_slot *slot) { STORE(&e->current, slot); }
sr_slot *sr_engine_swap_pending(sr_engine *e, sr_slot *slot) {
    return __atomic_exchange_n(&e->pending, slot, __ATOMIC_ACQ_REL);
}
sr_slot *sr_engine_current(sr_engine *e) { return LOAD(&e->current); }
sr_slot *sr_engine_incoming(sr_engine *e) { return LOAD(&e->incoming); }
sr_slot *sr_engine_pending(sr_engine *e) { return LOAD(&e->pending); }
sr_slot *sr_engine_take_retired(sr_engine *e) { return __atomic_exchange_n(&e->retired, NULL, __ATOMIC_ACQ_REL); }
void sr_engine_set_tap(sr_engine *e, sr_ring *tap) { STORE(&e->tap, tap); }

void sr_engine_set_demo(sr_engine *e, const sr_demo *demo) {
    STORE(&e->demo, demo && demo->frames > 0 ? demo : (const sr_demo *)NULL);
}

void sr_engine_wake_worker(sr_engine *e) { sem_post(&e->work); }

int sr_engine_wait_work(sr_engine *e, int64_t timeout_us) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int64_t ns = deadline.tv_nsec + (timeout_us % 1000000) * 1000;
    deadline.tv_sec += (time_t)(timeout_us / 1000000 + ns / 1000000000);
    deadline.tv_nsec = (long)(ns % 1000000000);
    int woke;
    while ((woke = sem_timedwait(&e->work, &deadline)) != 0 && errno == EINTR) {
    }
    if (woke != 0) return 0;
    while (sem_trywait(&e->work) == 0) { /* one pass serves every post so far */
    }
    return 1;
}

/* ---- the audio path ---------------------------------------------------------------------- */

/* dst[b][n] from src[a][n] (rows of stride max_block): equal counts copy, many-to-one
 * averages, one-to-many duplicates, otherwise the first channels pair up and the rest are silent. */
static void map_channels(const float *src, int a, float *dst, int b, int stride, int frames) {
    size_t bytes = (size_t)frames * sizeof(float);
    if (a == b || a == 1) {
        for (int c = 0; c < b; c++) memcpy(dst + c * stride, src + (a == 1 ? 0 : c * stride), bytes);
    } else if (b == 1) {
        float scale = 1.0f / (float)a;
        for (int i = 0; i < frames; i++) {
            float sum = 0.0f;
            for (int c = 0; c < a; c++) sum += src[c * stride + i];
            dst[i] = sum * scale;
        }
    } else {
        for (int c = 0; c < b; c++) {
            if (c < a) memcpy(dst + c * stride, src + c * stride, bytes);
            else memset(dst + c * stride, 0, bytes);
        }
    }
}

static int64_t sanitize(float *block, int channels, int stride, int frames) {
    int64_t bad = 0;
    for (int c = 0; c < channels; c++) {
        float *row = block + c * stride;
        for (int i = 0; i < frames; i++) {
            if (!isfinite(row[i])) { row[i] = 0.0f; bad++; }
        }
    }
    return bad;
}

static void levels(const float *block, int channels, int stride, int frames, float *peak, float *rms) {
    double energy = 0.0;
    float top = 0.0f;
    for (int c = 0; c < channels; c++) {
        const float *row = block + c * stride;
        for (int i = 0; i < frames; i++) {
            float v = fabsf(row[i]);
            if (v > top) top = v;
            energy += (double)row[i] * row[i];
        }
    }
    *peak = top;
    *rms = frames > 0 ? (float)sqrt(energy / ((double)channels * frames)) : 0.0f;
}

static void line_write(sr_engine *e, const float *block, int frames) {
    int64_t start = e->line_written % e->line_capacity;
    int64_t first = frames < e->line_capacity - start ? frames : e->line_capacity - start;
    for (int c = 0; c < e->out_channels; c++) {
        float *row = e->line + c * e->line_capacity;
        memcpy(row + start, block + c * e->max_block, (size_t)first * sizeof(float));
        memcpy(row, block + c * e->max_block + first, (size_t)(frames - first) * sizeof(float));
    }
    e->line_written += frames;
}

/* The last `frames` written, as they were `delay` frames ago (zeros before the first write). */
static void line_read(sr_engine *e, float *out, int64_t delay, int frames) {
    int64_t begin = e->line_written - delay - frames;
    for (int c = 0; c < e->out_channels; c++) {
        const float *row = e->line + c * e->line_capacity;
        float *dst = out + c * e->max_block;
        for (int i = 0; i < frames; i++) {
            int64_t at = begin + i;
            dst[i] = at < 0 ? 0.0f : row[at % e->line_capacity];
        }
    }
}

static void note_event(int64_t *slots, int64_t count, int64_t callback) {
    if (count < SR_EVENT_SLOTS) slots[count] = callback;
}

static void note_late(sr_engine *e) {
    sr_stats *st = &e->stats;
    if (st->callbacks <= LOAD(&e->grace_until)) {
        st->startup_late_blocks++;
        return;
    }
    note_event(st->late_at, st->late_blocks, st->callbacks);
    st->late_blocks++;
}

void sr_engine_input(sr_engine *e, const float *in, int frames) {
    sr_stats *st = &e->stats;
    st->callbacks++;
    int stride = e->max_block, nin = e->in_channels;
    const sr_demo *demo = LOAD(&e->demo);
    if (demo) {
        int64_t pos = e->demo_pos % demo->frames;
        for (int i = 0; i < frames; i++) {
            float v = demo->clip[pos];
            pos = pos + 1 < demo->frames ? pos + 1 : 0;
            e->demo_pos = pos;
            for (int c = 0; c < nin; c++) e->x[c * stride + i] = v;
        }
    } else {
        for (int c = 0; c < nin; c++)
            for (int i = 0; i < frames; i++) e->x[c * stride + i] = in[i * nin + c];
    }
    st->non_finite_inputs += sanitize(e->x, nin, stride, frames);
    smooth_ramp(&e->gain_in, e->ramp_in, frames);
    for (int c = 0; c < nin; c++)
        for (int i = 0; i < frames; i++) e->x[c * stride + i] *= e->ramp_in[i];
    levels(e->x, nin, stride, frames, &st->input_peak, &st->input_rms);
    map_channels(e->x, nin, e->dry, e->out_channels, stride, frames);
    line_write(e, e->dry, frames);

    sr_slot *pending = LOAD(&e->pending);
    if (pending && !e->incoming && !LOAD(&e->retired) &&
        __atomic_compare_exchange_n(&e->pending, &pending, (sr_slot *)NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        STORE(&e->incoming, pending);
        e->preroll_frames = (int64_t)pending->latency_frames + 2 * (int64_t)frames;
        e->fade_done_frames = 0;
    }
    sr_slot *slots[2] = {e->current, e->incoming};
    for (int k = 0; k < 2; k++) {
        sr_slot *s = slots[k];
        if (!s) continue;
        map_channels(e->x, nin, e->style_in, s->channels, stride, frames);
        if (sr_ring_write(s->input, e->style_in, stride, frames) != 0) {
            /* its worker stalled for longer than the ring holds: these frames will never come
             * back as wet, so they are not owed either (the wet stays aligned) */
            st->input_dropped_frames += frames;
            s->debt_frames = s->debt_frames > frames ? s->debt_frames - frames : 0;
        }
    }
    st->last_post_ns = sr_now_ns();
    sem_post(&e->work);
}

/* out = dry + wet_amount * presence * (wet - dry), the dry delayed by the slot's latency. When
 * the wet is late, the wet heard last is continued backwards (mirrored) while presence fades
 * to 0 over conceal_frames, so a late block is a short crossfade to the aligned dry, never a
 * jump; when the wet is back, presence fades in again. Returns 1 when the wet was on time. */
static int mix_slot(sr_engine *e, sr_slot *s, float *out, int frames) {
    int stride = e->max_block, nout = e->out_channels, fade = e->conceal_frames;
    line_read(e, e->dry_aligned, s->latency_frames, frames);
    if (s->debt_frames) s->debt_frames -= sr_ring_skip(s->output, s->debt_frames);
    int on_time = s->debt_frames == 0 && sr_ring_available(s->output) >= frames;
    if (on_time) {
        sr_ring_read(s->output, e->wet, stride, frames);
        map_channels(e->wet, s->channels, e->wet_mapped, nout, stride, frames);
        s->conceal_pos = 0;
    } else {
        s->debt_frames += frames;
    }
    float step = 1.0f / (float)fade;
    float presence = s->presence;
    for (int c = 0; c < nout; c++) {
        const float *dry = e->dry_aligned + c * stride;
        const float *wet = e->wet_mapped + c * stride;
        const float *hist = s->history + (size_t)c * fade;
        float *dst = out + c * stride;
        presence = s->presence;
        for (int i = 0; i < frames; i++) {
            float w;
            if (on_time) {
                presence = presence + step < 1.0f ? presence + step : 1.0f;
                w = wet[i];
            } else {
                presence = presence - step > 0.0f ? presence - step : 0.0f;
                int64_t back = s->conceal_pos + i; /* mirror the history around its newest frame */
                w = back < fade ? hist[((s->history_pos - 1 - back) % fade + fade) % fade] : 0.0f;
            }
            dst[i] = dry[i] + e->ramp_wet[i] * presence * (w - dry[i]);
        }
    }
    s->presence = presence;
    if (on_time) {
        for (int c = 0; c < nout; c++) { /* remember the newest wet frames for a later concealment */
            const float *wet = e->wet_mapped + c * stride;
            float *hist = s->history + (size_t)c * fade;
            int first = frames > fade ? frames - fade : 0;
            int64_t pos = s->history_pos;
            for (int i = first; i < frames; i++) hist[pos++ % fade] = wet[i];
        }
        s->history_pos = (s->history_pos + (frames > fade ? fade : frames)) % fade;
    } else {
        s->conceal_pos += frames;
    }
    return on_time;
}

static void limit(sr_engine *e, float *block, int frames) {
    const float headroom = LIMITER_CEILING - LIMITER_KNEE;
    for (int c = 0; c < e->out_channels; c++) {
        float *row = block + c * e->max_block;
        for (int i = 0; i < frames; i++) {
            float v = row[i];
            if (!isfinite(v)) { e->stats.non_finite_outputs++; v = 0.0f; }
            float a = fabsf(v);
            if (a > LIMITER_KNEE) v = copysignf(LIMITER_KNEE + headroom * tanhf((a - LIMITER_KNEE) / headroom), v);
            if (v > LIMITER_CEILING) v = LIMITER_CEILING;
            if (v < -LIMITER_CEILING) v = -LIMITER_CEILING;
            row[i] = v;
        }
    }
}

void sr_engine_output(sr_engine *e, float *out, int frames) {
    sr_stats *st = &e->stats;
    int stride = e->max_block, nout = e->out_channels;
    smooth_ramp(&e->wet_amount, e->ramp_wet, frames);
    float *mix = e->mix_a;
    sr_slot *current = e->current, *incoming = e->incoming;
    if (!current) {
        line_read(e, mix, 0, frames);
    } else if (!mix_slot(e, current, mix, frames)) {
        note_late(e);
    }
    if (incoming) {
        float *other = e->mix_b;
        int on_time = mix_slot(e, incoming, other, frames);
        if (e->preroll_frames > 0) {
            e->preroll_frames -= frames;
        } else {
            if (!on_time) note_late(e);
            float total = (float)e->crossfade_frames;
            for (int c = 0; c < nout; c++) {
                float *a = mix + c * stride;
                const float *b = other + c * stride;
                for (int i = 0; i < frames; i++) {
                    float g = (float)(e->fade_done_frames + i + 1) / total;
                    if (g > 1.0f) g = 1.0f;
                    a[i] += (b[i] - a[i]) * g;
                }
            }
            e->fade_done_frames += frames;
            if (e->fade_done_frames >= e->crossfade_frames) {
                STORE(&e->retired, current);
                STORE(&e->current, incoming);
                STORE(&e->incoming, (sr_slot *)NULL);
            }
        }
    }
    smooth_ramp(&e->gain_out, e->ramp_out, frames);
    for (int c = 0; c < nout; c++)
        for (int i = 0; i < frames; i++) mix[c * stride + i] *= e->ramp_out[i];
    limit(e, mix, frames);
    levels(mix, nout, stride, frames, &st->output_peak, &st->output_rms);
    sr_ring *tap = LOAD(&e->tap);
    if (tap) {
        if (sr_ring_write(tap, mix, stride, frames) != 0) st->tap_dropped_frames += frames;
    }
    for (int c = 0; c < nout; c++)
        for (int i = 0; i < frames; i++) out[i * nout + c] = mix[c * stride + i];
}

int sr_callback(const void *input, void *output, unsigned long frames, const void *time_info,
                unsigned long status_flags, void *userdata) {
    (void)time_info;
    sr_engine *e = userdata;
    sr_stats *st = &e->stats;
    int64_t started = sr_now_ns();
    if (status_flags & PA_XRUN_FLAGS) {
        /* PortAudio flags an underflow at the callback after the late one: logged under the late one's number */
        note_event(st->xrun_at, st->xruns, st->callbacks);
        st->xruns++;
    }
    if (frames > (unsigned long)e->max_block) {
        memset(output, 0, frames * (size_t)e->out_channels * sizeof(float));
        st->callback_errors++;
        return 0;
    }
    sr_engine_input(e, (const float *)input, (int)frames);
    sr_engine_output(e, (float *)output, (int)frames);
    int64_t took = sr_now_ns() - started;
    st->callback_ns[st->timings % SR_TIMING_SLOTS] = took;
    st->timings++;
    if (took * (int64_t)e->sample_rate > (int64_t)frames * 1000000000) st->over_budget++;
    return 0; /* paContinue */
}

/* ---- one slot of a rack ------------------------------------------------------------------ */

struct sr_chain_slot {
    int channels, latency, capacity, ramp_frames;
    int64_t written;      /* frames written into the delay line */
    float *line;          /* [channels][capacity] */
    float mix, target;    /* target: written by control threads (atomic) */
    float peak;           /* written by the worker, exchanged by a reader */
};

sr_chain_slot *sr_chain_slot_new(int channels, int latency_frames, int max_frames, int ramp_frames) {
    if (channels < 1 || latency_frames < 0 || max_frames < 1 || ramp_frames < 1) return NULL;
    sr_chain_slot *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->channels = channels;
    s->latency = latency_frames;
    s->capacity = latency_frames + max_frames;
    s->ramp_frames = ramp_frames;
    s->line = calloc((size_t)channels * (size_t)s->capacity, sizeof(float));
    if (!s->line) { free(s); return NULL; }
    s->mix = s->target = 1.0f;
    return s;
}

void sr_chain_slot_delete(sr_chain_slot *s) {
    if (!s) return;
    free(s->line);
    free(s);
}

void sr_chain_slot_set_mix(sr_chain_slot *s, float target) {
    if (!(target >= 0.0f)) target = 0.0f;
    if (target > 1.0f) target = 1.0f;
    __atomic_store(&s->target, &target, __ATOMIC_RELAXED);
}

void sr_chain_slot_jump(sr_chain_slot *s) { __atomic_load(&s->target, &s->mix, __ATOMIC_RELAXED); }

void sr_chain_slot_reset(sr_chain_slot *s) {
    memset(s->line, 0, (size_t)s->channels * (size_t)s->capacity * sizeof(float));
    s->written = 0;
}

float sr_chain_slot_take_peak(sr_chain_slot *s) {
    float zero = 0.0f, peak;
    __atomic_exchange(&s->peak, &zero, &peak, __ATOMIC_RELAXED);
    return peak;
}

void sr_chain_slot_feed(const sr_chain_slot *s, const float *x, float *style_in, int style_channels, int frames) {
    map_channels(x, s->channels, style_in, style_channels, frames, frames);
}

void sr_chain_slot_mix(sr_chain_slot *s, const float *x, const float *wet, int wet_channels, float *out, int frames) {
    float target;
    __atomic_load(&s->target, &target, __ATOMIC_RELAXED);
    float step = 1.0f / (float)s->ramp_frames;
    int64_t start = s->written;
    float top = 0.0f;
    for (int c = 0; c < s->channels; c++) {
        const float *in = x + (size_t)c * frames;
        int silent = c >= wet_channels && wet_channels != 1; /* a style with fewer channels: the rest are dry */
        const float *w = wet + (size_t)(c < wet_channels ? c : 0) * frames;
        float *row = s->line + (size_t)c * s->capacity;
        float *o = out + (size_t)c * frames;
        float mix = s->mix;
        for (int i = 0; i < frames; i++) {
            int64_t now = start + i;
            row[now % s->capacity] = in[i];
            float dry = row[(now - s->latency + (int64_t)s->capacity) % s->capacity];
            if (mix < target) { mix += step; if (mix > target) mix = target; }
            else if (mix > target) { mix -= step; if (mix < target) mix = target; }
            float value = silent ? dry : dry + mix * (w[i] - dry);
            o[i] = value;
            float a = fabsf(value);
            if (a > top) top = a;
        }
        if (c == s->channels - 1) s->mix = mix;
    }
    s->written = start + frames;
    float old;
    __atomic_load(&s->peak, &old, __ATOMIC_RELAXED);
    if (top > old) __atomic_store(&s->peak, &top, __ATOMIC_RELAXED);
}

/* ---- streaming polyphase resampler -------------------------------------------------------- */

struct sr_resampler {
    int channels, up, down, per_phase, max_in;
    float *bank;      /* [up][per_phase]: bank[p][j] = prototype[p + j * up] */
    float *history;   /* [channels][per_phase - 1 + max_in]: the last per_phase - 1 inputs, then new ones */
    int phase;        /* the next output's time on the up grid, modulo up */
    int64_t lag;      /* the next output's newest input, counted from the first new input (may be < 0) */
};

sr_resampler *sr_resampler_new(int channels, int up, int down, const float *prototype, int taps, int max_in_frames) {
    if (channels < 1 || up < 1 || down < 1 || taps < 1 || max_in_frames < 1 || !prototype) return NULL;
    sr_resampler *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->channels = channels;
    r->up = up;
    r->down = down;
    r->per_phase = (taps + up - 1) / up;
    r->max_in = max_in_frames;
    r->bank = calloc((size_t)up * (size_t)r->per_phase, sizeof(float));
    r->history = calloc((size_t)channels * (size_t)(r->per_phase - 1 + max_in_frames), sizeof(float));
    if (!r->bank || !r->history) { sr_resampler_delete(r); return NULL; }
    for (int p = 0; p < up; p++)
        for (int j = 0; j < r->per_phase; j++) {
            int k = p + j * up;
            r->bank[(size_t)p * r->per_phase + j] = k < taps ? prototype[k] : 0.0f;
        }
    return r;
}

void sr_resampler_delete(sr_resampler *r) {
    if (!r) return;
    free(r->bank);
    free(r->history);
    free(r);
}

void sr_resampler_reset(sr_resampler *r) {
    memset(r->history, 0, (size_t)r->channels * (size_t)(r->per_phase - 1 + r->max_in) * sizeof(float));
    r->phase = 0;
    r->lag = 0;
}

int64_t sr_resampler_output_frames(const sr_resampler *r, int64_t in_frames) {
    /* outputs whose newest input index (lag, lag + ...) is below in_frames */
    int64_t count = 0, lag = r->lag;
    int phase = r->phase;
    if (lag >= in_frames) return 0;
    /* closed form: output k has newest input lag + floor((phase + k * down) / up) */
    int64_t span = (in_frames - lag) * (int64_t)r->up - phase; /* grid steps until the input runs out */
    count = span > 0 ? (span + r->down - 1) / r->down : 0;
    return count;
}

int64_t sr_resampler_process(sr_resampler *r, const float *in, int64_t in_stride, int64_t in_frames,
                             float *out, int64_t out_stride) {
    if (in_frames < 0 || in_frames > r->max_in) return 0;
    int keep = r->per_phase - 1;
    size_t row = (size_t)(keep + r->max_in);
    for (int c = 0; c < r->channels; c++)
        memcpy(r->history + c * row + keep, in + c * in_stride, (size_t)in_frames * sizeof(float));
    int64_t produced = 0;
    int64_t lag = r->lag;
    int phase = r->phase;
    while (lag < in_frames) {
        const float *taps = r->bank + (size_t)phase * r->per_phase;
        int64_t newest = keep + lag; /* index in history of the newest input this output uses */
        for (int c = 0; c < r->channels; c++) {
            const float *x = r->history + c * row + newest;
            float acc = 0.0f;
            for (int j = 0; j < r->per_phase; j++) acc += taps[j] * x[-j];
            out[c * out_stride + produced] = acc;
        }
        produced++;
        phase += r->down;
        lag += phase / r->up;
        phase %= r->up;
    }
    /* keep the last `keep` inputs at the front for the next call */
    for (int c = 0; c < r->channels; c++) {
        float *h = r->history + c * row;
        memmove(h, h + in_frames, (size_t)keep * sizeof(float));
    }
    r->lag = lag - in_frames;
    r->phase = phase;
    return produced;
}
