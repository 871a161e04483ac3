"""`train`: staged training of a sample or of `--config` settings.

The stages come from Config.TRAINING_SCHEDULE (mrcnn.training.schedule):
matterport's heads-then-all recipe when a pretrained backbone was loaded
(coco, imagenet, a file with backbone weights), all layers in every stage
otherwise. The effective schedule is stored in the config, which every
checkpoint saves, so `--weights=last` finishes the same stages.

With TF_CONFIG naming a cluster, every machine runs the same command and
they train together (mrcnn.training.cluster): the chief writes the run.
"""
import logging
import os
import sys
import time

from mrcnn.commands.datasets import check_training_data, describe_parts, load_parts, problem_lines
from mrcnn.commands.project import reconcile_classes
from mrcnn.commands.session import backbone_loaded, check_continuation, configure, load_model
from mrcnn.training import schedule as schedules
from mrcnn.training.checkpoints import list_checkpoints
from mrcnn.training.interrupts import InterruptGuard

logger = logging.getLogger(__name__)


def effective_schedule(config, report, continues_run, layers=None):
    """The stages' source for this run: the run's own when continuing it
    (already effective), else the config's, turned to all layers when no
    pretrained backbone was loaded. Returns a new list."""
    if continues_run:
        return schedules.check_schedule(config.TRAINING_SCHEDULE)
    if backbone_loaded(report):
        return schedules.check_schedule(config.TRAINING_SCHEDULE)
    if layers and layers != "all":
        logger.warning("--layers=%s on a network without a pretrained backbone: the other "
                       "layers stay random", layers)
    else:
        print("No pretrained backbone loaded: every stage trains all layers "
              "(heads alone cannot learn on a random, frozen backbone)")
    return schedules.from_scratch_schedule(config.TRAINING_SCHEDULE)


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
EXIT_FAILED = 2  # what mrcnn.cli returns for a failure


def report_interrupt(model, args, project):
    """One line on stderr for Ctrl-C during training: where the run can be
    continued from. Returns EXIT_INTERRUPTED."""
    run_dir = model.log_dir
    done = [path for epoch, path in list_checkpoints(run_dir, model.config.NAME)
            if epoch <= model.epoch] if os.path.isdir(run_dir) else []
    where = f"{project.prog} train: interrupted in epoch {model.epoch + 1}"
    if done:
        print(f"{where}; the newest checkpoint is {done[-1]}: continue the run with "
              f"--weights=last --logs {args.logs} (or --resume {done[-1]})", file=sys.stderr)
    else:
        print(f"{where}, before the run's first checkpoint: nothing to continue from "
              f"in {run_dir}", file=sys.stderr)
    return EXIT_INTERRUPTED


def run_train(args, project):
    """Train; returns the exit code. Prints the parts, the stages and where
    the checkpoints are; in a cluster (TF_CONFIG), first this task's role,
    and a lost worker or a worker that trains something else as one line."""
    from mrcnn.training.cluster import Cluster, ClusterError, cluster_strategy, peer_failures

    try:
        # It configures TensorFlow's collectives: before anything uses TensorFlow.
        strategy = cluster_strategy(quiet=True)
        cluster = Cluster.from_strategy(strategy) if strategy is not None else None
        if cluster is not None:
            print(cluster.describe(strategy))
        with peer_failures(cluster):
            return _train(args, project, cluster)
    except ClusterError as e:
        print(f"{project.prog} train: {e}", file=sys.stderr)
        return EXIT_FAILED


def _train(args, project, cluster):
    config, path, continues = configure(project, args, "training")
    if args.augment:
        config.AUGMENTATION = None if args.augment == "none" else args.augment
    loader = project.dataset_loader
    parts, how = load_parts(loader, args.dataset, config, options=args.reader_options,
                            val_path=args.val_dataset, val_fraction=args.val_fraction, seed=args.seed)
    reconcile_classes(config, parts["train"].class_names)
    config.validate()
    if continues:
        check_continuation(config, path)
    print(f"Dataset ({how}):")
    for line in describe_parts(parts) + problem_lines(parts):
        print(f"  {line}")
    check_training_data(parts, classes_chosen=bool(getattr(args, "classes", None)),
                        ignore_errors=args.ignore_data_errors)
    if args.verbose:
        config.display()

    model, report = load_model("training", config, args, path, continues=continues)
    config.TRAINING_SCHEDULE = effective_schedule(config, report, continues, args.layers)
    stages = schedules.training_stages(config.TRAINING_SCHEDULE, config.LEARNING_RATE,
                                       epochs=args.epochs, layers=args.layers)
    print(f"Training {config.NAME} from epoch {model.epoch}; stages:")
    for line in schedules.describe(stages, model.epoch):
        print(f"  {line}")
    if model.epoch >= stages[-1].end_epoch:
        print(f"Nothing to train: the run is at epoch {model.epoch}; --epochs counts all epochs, "
              "the finished ones included")
        return 0
    if cluster is not None and not cluster.is_chief:
        print(f"The chief writes the run's checkpoints and logs; {cluster.name()} writes nothing")
    else:
        log_dir = model.prepare_log_dir()
        if continues:
            print(f"Continuing the run in {log_dir} from epoch {model.epoch}")
        else:
            print(f"New run in {log_dir}" + (f", initialised from {path}" if path else ""))
    print(f"Watch it: tensorboard --logdir {args.logs} (results.csv and results.png in the run "
          "folder after each epoch)")
    start = time.time()
    try:
        with InterruptGuard() as interrupts:
            for stage in stages:
                if model.epoch >= stage.end_epoch:
                    continue
                model.train(parts["train"], parts.get("val"), learning_rate=stage.learning_rate,
                            epochs=stage.end_epoch, layers=stage.layers,
                            custom_callbacks=[interrupts],
                            # The layer list (hundreds of lines) with --verbose only.
                            verbose=1 if args.verbose else 0)
    except KeyboardInterrupt:
        return report_interrupt(model, args, project)
    print(f"Trained to epoch {model.epoch} in {time.time() - start:.0f} s; checkpoints in "
          f"{model.log_dir}")
    return 0
