/* hrn-train: config-driven training and fine-tuning of HRN's networks.
 *
 *   hrn-train --config configs/train_recon.ini [--set section.key=value ...] [--resume] [--out DIR]
 *   hrn-train --demo [--preset small|bfm] [--out DIR]
 *   hrn-train --compare CKPT --config FILE [--set ...] [--samples N]
 *   mpirun -np N hrn-train --config FILE ...       (data parallel: each rank a share of a batch)
 * Exit codes: 0 success, 1 failure (bad data, numeric stop), 2 bad command line or config.
 */
#include "hrn_train.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SETS = 128 };

static void usage(FILE *out) {
    fprintf(out,
            "usage: hrn-train --config FILE [--set S.K=V ...] [--resume] [--out DIR]\n"
            "       hrn-train --demo [--preset small|bfm] [--out DIR]\n"
            "       hrn-train --compare CKPT --config FILE [--set S.K=V ...] [--samples N]\n"
            "\n"
            "Trains or fine-tunes HRN's networks as the config says (run.stage): recon\n"
            "(net_recon, Deep3D's losses + HRN's contour loss + coefficient supervision),\n"
            "mid (mid_net and alpha) or geometry (mid_net, high_net, alpha, beta: photometric\n"
            "at each level, smoothness, 3D priors against ground-truth maps), on synthetic data\n"
            "made on the fly or a folder in Deep3DFaceRecon's layout.\n"
            "\n"
            "  --config FILE    configs/train_recon.ini, configs/train_geometry.ini, ...\n"
            "  --set S.K=V      override a config key (repeatable), e.g. --set optim.lr=1e-5\n"
            "  --out DIR        the run directory (run.out)\n"
            "  --resume         continue from the newest checkpoint in the run directory\n"
            "                   (bit-identical to a run that never stopped, same thread count);\n"
            "                   without it a run starts from step 0\n"
            "  --demo           no data needed: train narrow networks on synthetic faces (recon,\n"
            "                   then geometry), then compare on held-out faces the mean face,\n"
            "                   the networks' forward pass, hrn-fit from the mean face and\n"
            "                   hrn-fit from the networks [out: hrn-train-demo]\n"
            "  --preset P       demo face model: small (1257 vertices) or bfm (35709) [small]\n"
            "  --compare CKPT   the demo's comparison for a checkpoint, on N held-out synthetic\n"
            "                   faces of the config's model and distributions [--samples 8]\n"
            "\n"
            "data parallel: mpirun -np N hrn-train --config FILE ... splits every batch of\n"
            "  batch.size samples into N equal shares (one per rank, in one process's order),\n"
            "  sums losses, batch-norm statistics and gradients across the ranks in rank order\n"
            "  and takes the same step on each; rank 0 logs and writes checkpoints; --resume\n"
            "  is bit-identical with the same N. Run 1 OpenMP thread per core per rank\n"
            "  (mpirun -x OMP_NUM_THREADS=1 ...).\n"
            "\n"
            "outputs in the run directory: config.ini (resolved), losses.tsv (a row per step),\n"
            "  val.tsv (held-out metrics), ckpt_<step>.h5 (networks + optimizer + position; read\n"
            "  by hrn-fit --checkpoint and by run.init of the next stage)\n"
            "\n"
            "  -v, --verbose    debug log      -q, --quiet    errors only\n"
            "  --help-config    every config key with its default\n"
            "  -h, --help       this help\n");
}

/* A test hook: HRN_TRAIN_KILL_AT_STEP=k kills the process with SIGKILL right after step k (and
 * its checkpoint, when one was due), as a crash or an out-of-memory kill would. */
static enum hrn_status kill_hook(void *user, int64_t step) {
    const int64_t *at = user;
    if (*at > 0 && step == *at) raise(SIGKILL);
    return HRN_OK;
}

struct args {
    const char *config, *out, *preset, *compare;
    int samples;
    const char *sets[MAX_SETS];
    int n_sets, resume, demo;
};

/* 0 ok, 1 help printed, 2 usage error */
static int parse_args(int argc, char **argv, struct args *a) {
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
        {"out", required_argument, 0, 'o'},    {"resume", no_argument, 0, 'r'},
        {"verbose", no_argument, 0, 'v'},      {"quiet", no_argument, 0, 'q'},
        {"help-config", no_argument, 0, 'H'},  {"help", no_argument, 0, 'h'},
        {"demo", no_argument, 0, 'D'},         {"preset", required_argument, 0, 'P'},
        {"compare", required_argument, 0, 'C'}, {"samples", required_argument, 0, 'N'},
        {0, 0, 0, 0}};
    int c;
    memset(a, 0, sizeof *a);
    while ((c = getopt_long(argc, argv, "c:s:o:rvqh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 's':
            if (a->n_sets == MAX_SETS) return 2;
            a->sets[a->n_sets++] = optarg;
            break;
        case 'o': a->out = optarg; break;
        case 'r': a->resume = 1; break;
        case 'v': hrn_log_set_level(HRN_LOG_DEBUG); break;
        case 'q': hrn_log_set_level(HRN_LOG_ERROR); break;
        case 'H': hrn_config_help(&hrn_train_schema, stdout); return 1;
        case 'D': a->demo = 1; break;
        case 'P': a->preset = optarg; break;
        case 'C': a->compare = optarg; break;
        case 'N': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 100000) return 2;
            a->samples = (int)n;
            break;
        }
        case 'h': usage(stdout); return 1;
        default: return 2;
        }
    }
    if (optind < argc || (!a->config && !a->demo) || (a->config && a->demo) ||
        (a->compare && !a->config))
        return 2;
    if (a->preset && (!a->demo || (strcmp(a->preset, "small") && strcmp(a->preset, "bfm"))))
        return 2;
    return 0;
}

static enum hrn_status load_config(const struct args *a, struct hrn_train_config *cfg) {
    enum hrn_status st = hrn_config_load(&hrn_train_schema, a->config, cfg);
    for (int i = 0; i < a->n_sets && st == HRN_OK; i++)
        st = hrn_config_set(&hrn_train_schema, cfg, a->sets[i]);
    if (st == HRN_OK && a->out) {
        if (strlen(a->out) >= sizeof cfg->out)
            return hrn_error_set(HRN_ERR_CONFIG, "--out: path too long");
        snprintf(cfg->out, sizeof cfg->out, "%s", a->out);
    }
    return st;
}

/* A training run, over MPI when mpirun started this process. An error on one rank aborts the
 * job: the others would wait for it in the next collective forever. */
static int train(const struct hrn_train_config *cfg, int resume, int *argc, char ***argv) {
    struct hrn_dist dist;
    enum hrn_status st = hrn_dist_init(&dist, argc, argv);
    if (st != HRN_OK) {
        fprintf(stderr, "hrn-train: %s\n", hrn_error_msg());
        return 1;
    }
    if (dist.rank != 0) hrn_log_set_level(HRN_LOG_ERROR); /* rank 0 speaks for the run */
    const char *k = getenv("HRN_TRAIN_KILL_AT_STEP");
    int64_t kill_at = k ? strtoll(k, NULL, 10) : 0;
    struct hrn_trainer *tr = NULL;
    st = hrn_trainer_open_dist(&tr, cfg, resume, &dist);
    if (st == HRN_OK) st = hrn_trainer_run(tr, kill_hook, &kill_at);
    if (st == HRN_OK && dist.rank == 0) {
        double red = hrn_trainer_reduce_seconds(tr), d, p, s;
        hrn_trainer_timing(tr, &d, &p, &s);
        fprintf(stderr, "hrn-train: %lld steps done; run directory %s\n",
                (long long)hrn_trainer_step(tr), cfg->out);
        if (dist.size > 1)
            fprintf(stderr, "hrn-train: %d ranks; gradient reduction %.2f s of %.2f s in steps "
                    "(%.1f%%)\n", dist.size, red, s, s > 0 ? 100.0 * red / s : 0.0);
    } else if (st != HRN_OK) {
        if (dist.size > 1) fprintf(stderr, "hrn-train (rank %d of %d): %s\n", dist.rank, dist.size, hrn_error_msg());
        else fprintf(stderr, "hrn-train: %s\n", hrn_error_msg());
        hrn_dist_abort(&dist, 1);
    }
    hrn_trainer_close(tr);
    hrn_layers_release();
    hrn_dist_finalize(&dist);
    return st == HRN_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv);
    struct args a;
    int pr = parse_args(argc, argv, &a);
    if (pr == 1) return 0;
    if (pr == 2) {
        usage(stderr);
        return 2;
    }
    if (a.demo) {
        const char *model = a.preset && !strcmp(a.preset, "bfm") ? "synth-bfm" : "synth-small";
        enum hrn_status st = hrn_train_demo(a.out ? a.out : "hrn-train-demo", model, 8, stdout);
        if (st != HRN_OK) fprintf(stderr, "hrn-train: %s\n", hrn_error_msg());
        hrn_layers_release();
        return st == HRN_OK ? 0 : 1;
    }
    struct hrn_train_config cfg;
    enum hrn_status st = load_config(&a, &cfg);
    if (st != HRN_OK) {
        fprintf(stderr, "hrn-train: %s\n", hrn_error_msg());
        return 2;
    }
    if (a.compare) {
        st = hrn_train_compare(a.compare, &cfg, a.samples ? a.samples : 8, stdout);
        if (st != HRN_OK) fprintf(stderr, "hrn-train: %s\n", hrn_error_msg());
        hrn_layers_release();
        return st == HRN_OK ? 0 : 1;
    }
    return train(&cfg, a.resume, &argc, &argv);
}
