"""MaskRCNN: matterport's model class on Keras 3.

    import mrcnn.model as modellib
    model = modellib.MaskRCNN(mode="training", config=config, model_dir=MODEL_DIR)
    model.train(dataset_train, dataset_val, learning_rate=config.LEARNING_RATE,
                epochs=10, layers="all")
    model = modellib.MaskRCNN(mode="inference", config=inference_config, model_dir=MODEL_DIR)
    model.load_weights(model.find_last(), by_name=True)
    results = model.detect([image])

The stages live in mrcnn/modeling/, the input pipeline in mrcnn/data/, the
training machinery in mrcnn/training/.
"""
import copy
import datetime
import logging
import os
import random

import keras
import numpy as np
import tensorflow as tf

from mrcnn import graph_inspection
from mrcnn.anchors import compute_backbone_shapes, get_anchors
from mrcnn.console import inform
from mrcnn.data.molding import mold_inputs, unmold_detections
from mrcnn.data.pipeline import (  # noqa: F401  (matterport import paths)
    DataGenerator,
    data_generator,
    load_image_gt,
    mold_image,
    unmold_image,
)
from mrcnn.data.targets import (  # noqa: F401  (matterport import paths)
    build_detection_targets,
    build_rpn_targets,
    generate_random_rois,
)
from mrcnn.evaluation import EVALUATION_MIN_CONFIDENCE
from mrcnn.image_meta import parse_image_meta_graph  # noqa: F401
from mrcnn.image_meta import compose_image_meta, parse_image_meta  # noqa: F401  (matterport)
from mrcnn.modeling.backbone import (  # noqa: F401  (matterport's graph functions, for old code)
    conv_block,
    foreign_normalization_layers,
    identity_block,
    resnet_graph,
)
from mrcnn.modeling.box_ops import (  # noqa: F401
    apply_box_deltas_graph,
    clip_boxes_graph,
    denorm_boxes_graph,
    norm_boxes_graph,
    overlaps_graph,
    trim_zeros_graph,
)
from mrcnn.modeling.detection import DetectionLayer, refine_detections_graph  # noqa: F401
from mrcnn.modeling.detection_targets import (  # noqa: F401
    DetectionTargetLayer,
    detection_targets_graph,
)
from mrcnn.modeling.heads import build_fpn_mask_graph, fpn_classifier_graph  # noqa: F401
from mrcnn.modeling.losses import (  # noqa: F401
    batch_pack_graph,
    mrcnn_bbox_loss_graph,
    mrcnn_class_loss_graph,
    mrcnn_mask_loss_graph,
    rpn_bbox_loss_graph,
    rpn_class_loss_graph,
    smooth_l1_loss,
)
from mrcnn.modeling.network import build_inference_graph, build_training_graph
from mrcnn.modeling.normalization import BatchNorm  # noqa: F401
from mrcnn.modeling.precision import dtype_policy, resolve_precision
from mrcnn.modeling.proposals import ProposalLayer  # noqa: F401
from mrcnn.modeling.roi_align import PyramidROIAlign, log2_graph  # noqa: F401
from mrcnn.modeling.rpn import build_rpn_model, rpn_graph  # noqa: F401
from mrcnn.normalizations import Normalization
from mrcnn.training import resume
from mrcnn.training.checkpoints import (
    continued_run,
    create_run_dir,
    find_last_checkpoint,
    list_checkpoints,
    read_checkpoint_config,
)
from mrcnn.training.cluster import (
    Cluster,
    join_chief_run,
    peer_failures,
    wait_for_all_workers,
    worker_input,
)
from mrcnn.training.data_health import UnreadableImagesError
from mrcnn.training.distribute import describe_devices, distribution_strategy, is_distributed
from mrcnn.training.keras_model import MaskRCNNInferenceModel, MaskRCNNTrainingModel
from mrcnn.training.layers import layers_regex, set_trainable
from mrcnn.training.optimizer import make_optimizer
from mrcnn.training.wiring import fit_callbacks
from mrcnn.weights import (
    copy_weights_by_name,
    load_weights_h5,
    read_weights_file,
    save_weights_h5,
)

logger = logging.getLogger("mrcnn")


def log(text, array=None):
    """Prints a text message. And, optionally, if a Numpy array is provided it
    prints it's shape, min, and max values.
    """
    if array is not None:
        array = np.asarray(array)
        text = text.ljust(25)
        text += ("shape: {:20}  ".format(str(array.shape)))
        if array.size:
            text += ("min: {:10.5f}  max: {:10.5f}".format(array.min(), array.max()))
        else:
            text += ("min: {:10}  max: {:10}".format("", ""))
        text += "  {}".format(array.dtype)
    print(text)


class MaskRCNN:
    """Encapsulates the Mask RCNN model functionality.

    The actual Keras model is in the keras_model property.
    """

    def __init__(self, mode, config, model_dir):
        """
        mode: Either "training" or "inference"
        config: A Sub-class of the Config class
        model_dir: Directory to save training logs and trained weights
        """
        if mode not in ("training", "inference"):
            raise ValueError(f"mode must be 'training' or 'inference', not {mode!r}")
        config.validate()
        self.mode = mode
        self.config = config
        self.model_dir = os.fspath(model_dir)
        # Whether the loaded weights carry BatchNorm statistics worth keeping
        # (pretrained COCO/ImageNet files). Decides TRAIN_BN=None.
        self.pretrained_batchnorm = False
        # The normalisation the loaded weights were trained with (None: no
        # file loaded, or one that does not say). Decides NORMALIZATION=None.
        self.weights_normalization = None
        self._predict_function = None
        # The Keras model, built when first used (see keras_model), and the
        # normalization it was built with.
        self._keras_model = None
        self._built_norm = None
        # What the next train() call's optimizer continues: the compiled
        # optimizer of the previous call when `_optimizer_is_current`, else
        # `_resume_state` (a checkpoint's resume.OptimizerState; None: a
        # fresh optimizer).
        self._optimizer_is_current = False
        self._resume_state = None
        # The inference model of validation_detector().
        self._inference_twin = None
        self.set_log_dir()
        # GPU_COUNT > 1 (or TF_CONFIG naming a cluster of machines) trains
        # data-parallel: the model's variables (and the optimizer's, see
        # compile) must be created in the strategy's scope to be mirrored on
        # every device. Inference runs on one device: detect() batches
        # BATCH_SIZE images there.
        self.strategy = (distribution_strategy(config) if mode == "training"
                         else tf.distribute.get_strategy())

    @property
    def keras_model(self):
        """The Keras model (matterport's attribute). Built when first used,
        with the normalization that the config and the weights loaded by
        then decide (see `norm`): load_weights() before it, as matterport's
        scripts do, builds the network once."""
        if self._keras_model is None:
            self._build_for(self.norm)
        return self._keras_model

    @keras_model.setter
    def keras_model(self, model):
        self._keras_model = model
        self._predict_function = None

    def _build_for(self, norm):
        """Make keras_model a network whose normalization layers compute
        `norm`: built now when there is none, built again when the current
        one was built with another (its weights carried over by layer name,
        and a train() call's optimizer state kept for the next)."""
        previous = self._keras_model
        if previous is not None and self._built_norm == norm:
            return
        if previous is not None:
            logger.info("Building the network again for normalization %s (it was built for %s)",
                        norm.describe(), self._built_norm.describe())
            if self._optimizer_is_current:
                self._resume_state = resume.capture_optimizer_state(
                    getattr(previous, "optimizer", None), "the previous train() call")
                self._optimizer_is_current = False
        if previous is None:
            inform(logger, "Computing in %s", self.precision.describe())
        with self.strategy.scope():
            model = self.build(mode=self.mode, config=self.config, norm=norm)
        model.weight_file_attrs = lambda: self.checkpoint_attrs(self.epoch)
        foreign = foreign_normalization_layers(model, norm)
        if foreign:
            logger.warning("BACKBONE %r: its builder takes no `norm`, so %d of its layers (%s) "
                           "normalise as it built them, not as NORMALIZATION=%r; give it a "
                           "`norm` argument (mrcnn.backbones)", self.config.BACKBONE,
                           len(foreign), ", ".join(foreign[:3]), norm.name)
        if previous is not None:
            copy_weights_by_name(previous, model)
        self.keras_model = model
        self._built_norm = norm

    # ---- building ----------------------------------------------------------
    def build(self, mode, config, norm=None):
        """Build Mask R-CNN architecture.

        mode: Either "training" or "inference". The inputs and
            outputs of the model differ accordingly.
        norm: its mrcnn.normalizations.Normalization; None: this model's
            (`norm`, for `mode`).
        Returns the Keras model (keras_model is the one built for this
        model's mode).
        """
        h, w = config.IMAGE_SHAPE[:2]
        if h / 2 ** 6 != int(h / 2 ** 6) or w / 2 ** 6 != int(w / 2 ** 6):
            raise ValueError("Image size must be dividable by 2 at least 6 times "
                             "to avoid fractions when downscaling and upscaling."
                             "For example, use 256, 320, 384, 448, 512, ... etc. ")
        if norm is None:
            norm = self._norm_for(mode)
        with dtype_policy(resolve_precision(config.DTYPE_POLICY).policy):
            if mode == "training":
                inputs, outputs = build_training_graph(config, norm)
                return MaskRCNNTrainingModel(
                    inputs=inputs, outputs=outputs, name="mask_rcnn",
                    loss_weights=config.LOSS_WEIGHTS, weight_decay=config.WEIGHT_DECAY)
            inputs, outputs = build_inference_graph(config, norm)
            return MaskRCNNInferenceModel(inputs=inputs, outputs=outputs, name="mask_rcnn")

    @property
    def train_batchnorm(self):
        """Whether BatchNorm layers use (and update) batch statistics when
        training: Config.TRAIN_BN, or with TRAIN_BN=None, True unless
        pretrained weights with BatchNorm statistics were loaded."""
        if self.config.TRAIN_BN is None:
            return not self.pretrained_batchnorm
        return bool(self.config.TRAIN_BN)

    @property
    def normalization(self):
        """The registered normalization the network's normalization layers
        (bn_conv1, ..., mrcnn_mask_bn4) compute: Config.NORMALIZATION, or
        with NORMALIZATION=None, the loaded weights' ("batch" for COCO,
        ImageNet and matterport files; a checkpoint's own record) and
        "group" while none are loaded."""
        return self.config.NORMALIZATION or self.weights_normalization or "group"

    @property
    def norm(self):
        """The mrcnn.normalizations.Normalization this model's network is
        built with: `normalization`, its statistics learned when training
        with `train_batchnorm`, and Config.BATCH_RENORM. The one place that
        decides it; keras_model is built (again) when it changes."""
        return self._norm_for(self.mode)

    @property
    def precision(self):
        """The mrcnn.modeling.precision.Precision the network computes in:
        Config.DTYPE_POLICY, with "auto" resolved for this machine."""
        return resolve_precision(self.config.DTYPE_POLICY)

    def _norm_for(self, mode):
        learn = mode == "training" and self.train_batchnorm
        return Normalization(self.normalization, learn_statistics=learn,
                             renorm=self.config.BATCH_RENORM)

    # ---- files ------------------------------------------------------------
    def find_last(self):
        """Finds the last checkpoint file of the last trained model in the
        model directory: the newest complete `mask_rcnn_<name>_<epoch>.h5` of
        the newest run `<model_dir>/<name>YYYYmmddTHHMM` (name = Config.NAME).
        Partial files of killed runs are passed over.

        Returns:
            The path of the last checkpoint file
        Raises FileNotFoundError naming the folder and NAME when there is none.
        """
        return find_last_checkpoint(self.model_dir, self.config.NAME)

    def set_log_dir(self, model_path=None):
        """Sets the model log directory and epoch counter.

        model_path: a checkpoint of a run of this config's NAME
            (`.../<name>YYYYmmddTHHMM/mask_rcnn_<name>_<epoch:04d>.h5`):
            training continues in that folder after that epoch. None, or any
            other file (COCO, ImageNet, another NAME's run), starts a new
            folder `<model_dir>/<name>YYYYmmddTHHMM` at epoch 0, created by
            train(); when another run started in the same minute holds that
            name, train() appends seconds to the stamp (log_dir follows).
        """
        name = self.config.NAME.lower()
        run = continued_run(model_path, name) if model_path else None
        if run:
            # Epoch number in file is 1-based, and in Keras code it's 0-based.
            # So the file's number is the next epoch to run in Keras' count.
            self.log_dir, self.epoch = run
            logger.info("Re-starting from epoch %d", self.epoch)
        else:
            self.epoch = 0
            self.log_dir = os.path.join(self.model_dir, "{}{:%Y%m%dT%H%M}".format(
                name, datetime.datetime.now()))
        # A new run's folder is claimed by its first train(), which moves to
        # a free name when another run already holds this one.
        self._log_dir_is_ours = bool(run)
        # The seed of the run's image order; load_weights() takes a
        # continued run's from its checkpoint.
        self.data_seed = random.SystemRandom().getrandbits(62)
        self._set_checkpoint_path()

    def prepare_log_dir(self):
        """Create the folder this run writes to, before its first epoch, and
        return it. A new run claims `<model_dir>/<name>YYYYmmddTHHMM` (or a
        free name of that minute, see create_run_dir). A continued run keeps
        its folder unless that holds checkpoints after the epoch it
        continues from (it was restarted from an earlier one): those are
        kept, and this run writes to a new folder beside it, its epoch count
        going on from there. So no run ever overwrites another's files.
        """
        name = self.config.NAME
        if self._log_dir_is_ours:
            later = ([path for epoch, path in list_checkpoints(self.log_dir, name)
                      if epoch > self.epoch] if os.path.isdir(self.log_dir) else [])
            if not later:
                os.makedirs(self.log_dir, exist_ok=True)
                return self.log_dir
            branched_from = self.log_dir
            self.log_dir = create_run_dir(os.path.dirname(branched_from), name)
            logger.warning("%s holds checkpoints after epoch %d (%s): they are kept, and this "
                           "run continues from epoch %d in %s", branched_from, self.epoch,
                           ", ".join(os.path.basename(p) for p in later), self.epoch,
                           self.log_dir)
        else:
            self.log_dir = create_run_dir(self.model_dir, name, preferred=self.log_dir)
        self._set_checkpoint_path()
        self._log_dir_is_ours = True
        return self.log_dir

    def _set_checkpoint_path(self):
        # Path to save after each epoch. Include placeholders that get filled by Keras.
        name = self.config.NAME.lower()
        self.checkpoint_path = os.path.join(self.log_dir, f"mask_rcnn_{name}_{{epoch:04d}}.h5")

    def load_weights(self, filepath, by_name=False, exclude=None, continue_run=None):
        """Load weights from an HDF5 file: matterport's layout (mask_rcnn_coco.h5,
        old checkpoints; either string encoding), keras.applications'
        ResNet50/101 notop files (mapped onto the backbone), or this
        project's checkpoints. The layout is detected from the file.

        by_name: take the layers whose names and shapes fit and leave the
            others at their initial values. Without it the file must fit the
            whole model, or a ValueError says which layers do not.
        exclude: list of layer names to skip (implies by_name), as in
            matterport's fine-tuning recipe.
        With by_name, the class-specific heads (mrcnn_class_logits,
        mrcnn_bbox_fc, mrcnn_mask) are skipped when the file's class count
        differs from NUM_CLASSES; the log says so, with a summary line.

        continue_run: whether the next train() continues the run the file
            is a checkpoint of (its log directory, epoch count and, in
            training mode, optimizer state: iteration count, momentum).
            None (matterport's behaviour): when the file is a checkpoint of a
            run of this config's NAME whose network and classes
            (resume.ARCHITECTURE_SETTINGS) are this config's; otherwise a
            new run starts, initialised from the file. False: always a new
            run. True: continue, or raise ValueError saying why not.
        A continued run never overwrites checkpoints of its later epochs:
        train() then writes to a new run folder (see prepare_log_dir).

        Returns: mrcnn.weights.LoadReport (loaded/skipped/initial tensors).
        """
        filepath = os.fspath(filepath)
        if exclude:
            by_name = True
        continuing = self._continues(filepath, continue_run)
        read = read_weights_file(filepath)
        file_report = read[1]
        before = self.pretrained_batchnorm, self.weights_normalization
        # Pretrained files (COCO, ImageNet) carry BatchNorm statistics worth
        # keeping; a from-scratch checkpoint says it learned its own. Both
        # decide the network's normalization, so it is built for them first.
        self.pretrained_batchnorm = file_report.pretrained_batchnorm
        self.weights_normalization = file_report.normalization or self.weights_normalization
        try:
            self._build_for(self.norm)
            report = load_weights_h5(self.keras_model, filepath, by_name=by_name,
                                     exclude=exclude, inference=self.mode == "inference",
                                     read=read)
        except BaseException:
            self.pretrained_batchnorm, self.weights_normalization = before
            raise
        # Update the log directory
        self.set_log_dir(filepath if continuing else None)
        self._optimizer_is_current = False
        self._resume_state = None
        if self.mode == "training" and continuing:
            self._resume_state = resume.read_optimizer_state(filepath)
            if self._resume_state is None:
                logger.warning("%s holds no optimizer state (a run keeps it in its newest "
                               "OPTIMIZER_STATE_CHECKPOINTS checkpoints only): training continues "
                               "at epoch %d with a fresh optimizer (no momentum, iteration 0)",
                               filepath, self.epoch)
            trained_in = report.attrs.get("mrcnn_dtype_policy")
            if trained_in and trained_in != self.precision.policy:
                logger.warning("%s was trained in %s; the run continues in %s", filepath,
                               trained_in, self.precision.describe())
            if "mrcnn_data_seed" in report.attrs:
                self.data_seed = int(report.attrs["mrcnn_data_seed"])
            saved_config = report.attrs.get("mrcnn_config")
            differences = resume.config_differences(saved_config, self.config) if saved_config else []
            if differences:
                logger.warning("Resuming %s with settings that differ from its run: %s",
                               filepath, "; ".join(differences))
        return report

    def _continues(self, filepath, continue_run):
        """Whether loading `filepath` continues its run (see load_weights)."""
        if continue_run is False:
            return False
        run = continued_run(filepath, self.config.NAME)
        if self.mode == "inference":
            return bool(run)
        if run is None:
            if continue_run:
                raise ValueError(
                    f"{filepath} is not a checkpoint of a run of NAME {self.config.NAME!r} "
                    f"(<logs>/{self.config.NAME.lower()}YYYYmmddTHHMM/mask_rcnn_"
                    f"{self.config.NAME.lower()}_NNNN.h5): it can only start a new run")
            return False
        differences = resume.architecture_differences(read_checkpoint_config(filepath),
                                                      self.config)
        if not differences:
            return True
        what = "; ".join(differences)
        if continue_run:
            raise ValueError(f"Cannot continue the run of {filepath}: the network or its classes "
                             f"differ from the run's ({what}). Start a new run initialised from "
                             "the file instead (--weights=PATH)")
        logger.warning("%s was trained with another network or classes (%s): a new run starts, "
                       "initialised from it; its run is left as it is", filepath, what)
        return False

    def get_imagenet_weights(self):
        """Path of the keras.applications ImageNet notop file for the config's
        BACKBONE (resnet50 or resnet101), from $MRCNN_WEIGHTS_DIR or
        ~/.keras/models; downloaded there when missing (mrcnn.weights)."""
        from mrcnn.weights import resolve_weights

        return resolve_weights("imagenet", self)

    def checkpoint_attrs(self, epoch):
        """The root attributes a weight file of this model carries (see
        mrcnn/training/resume.py), for `epoch` epochs done."""
        return {
            "epoch": int(epoch),
            "mrcnn_config": self.config.to_yaml(),
            # True when this run learned the BatchNorm statistics itself (from
            # scratch): loading the file then keeps them training.
            "mrcnn_trained_batchnorm_statistics": bool(self.train_batchnorm),
            # What its BatchNorm layers computed ("batch" or "group").
            "mrcnn_normalization": self.normalization,
            # The dtype policy it computed in (DTYPE_POLICY "auto" resolved).
            "mrcnn_dtype_policy": self.precision.policy,
        }

    def save_weights_h5(self, filepath, include_optimizer=False):
        """Save the weights in matterport's Keras-2 HDF5 layout (the RPN as
        group `rpn_model`, fixed-length byte-string names), which matterport's
        code and old tooling load with load_weights(path, by_name=True).
        Written atomically; root attributes carry the epoch and the config.
        include_optimizer: add the optimizer state, as checkpoints have.
        Returns filepath."""
        filepath = os.fspath(filepath)
        attrs = self.checkpoint_attrs(self.epoch)
        optimizer = getattr(self.keras_model, "optimizer", None) if include_optimizer else None
        extra = (lambda f: resume.write_optimizer_state(f, optimizer)) if optimizer else None
        return save_weights_h5(self.keras_model, filepath, attrs=attrs, extra=extra)

    # ---- training -----------------------------------------------------------
    def compile(self, learning_rate, momentum):
        """Gets the model ready for training: Config.OPTIMIZER (SGD with
        `momentum`, as matterport, or Adam) with gradient clipping, the
        optional warm-up and GRADIENT_ACCUMULATION_STEPS, inside dynamic loss
        scaling under mixed_float16 (mrcnn.training.optimizer); losses are
        computed by the model's step.

        learning_rate: a float or a keras.optimizers.schedules.LearningRateSchedule
        (a function of the optimizer's iteration count, so it continues on resume).

        With R replicas (GPU_COUNT > 1), Keras clips each replica's gradient
        before summing them, and that gradient is g/R (train_step divides the
        loss by R). Clipping g/R at GRADIENT_CLIP_NORM / R gives clip(g)/R, so
        the update is the mean of the replicas' gradients each clipped at
        GRADIENT_CLIP_NORM: the one-device update when no weight's gradient
        reaches the limit, and never beyond the limit when one does (the
        undivided limit would let it reach R times GRADIENT_CLIP_NORM).
        """
        replicas = self.strategy.num_replicas_in_sync
        clipnorm = self.config.GRADIENT_CLIP_NORM
        if clipnorm and replicas > 1:
            clipnorm = clipnorm / replicas
        # The optimizer binds the strategy in effect when it is created and
        # its slots are mirrored only when built in the scope.
        with self.strategy.scope():
            optimizer = make_optimizer(self.config, learning_rate, clipnorm, momentum)
            self.keras_model.compile(optimizer=optimizer)

    def _prepare_optimizer(self, learning_rate):
        """Compile for a train() call and continue the optimizer state: the
        checkpoint's after load_weights() of this run's checkpoint, else the
        previous train() call's. The state continues only for the same
        trainable tensors (same `layers=`); otherwise the optimizer starts
        fresh and the log says why.

        learning_rate: float, LearningRateSchedule, or None for the resumed
            state's (else Config.LEARNING_RATE). Returns the one used.
        """
        from_file = not self._optimizer_is_current
        if self._optimizer_is_current:
            state = resume.capture_optimizer_state(
                getattr(self.keras_model, "optimizer", None), "the previous train() call")
        else:
            state = self._resume_state
        self._resume_state = None
        self._optimizer_is_current = True
        if learning_rate is None:
            learning_rate = state.learning_rate() if state else self.config.LEARNING_RATE
        self.compile(learning_rate, self.config.LEARNING_MOMENTUM)
        # Building the optimizer creates its slots: mirrored only in the scope.
        with self.strategy.scope():
            restored, detail = resume.restore_optimizer_state(
                self.keras_model.optimizer, self.keras_model.trainable_variables, state)
        if restored:
            logger.info("Continuing the optimizer of %s: %s", state.source, detail)
        elif state is not None:
            # A new layers= stage in the same process is matterport's recipe;
            # a checkpoint that cannot continue is worth a warning.
            logger.log(logging.WARNING if from_file else logging.INFO,
                       "The optimizer starts fresh (iteration 0, no momentum) because %s; "
                       "the epoch count continues at %d", detail, self.epoch)
        return learning_rate

    def find_trainable_layer(self, layer):
        """The layer that holds the weights of `layer`: the wrapped layer of
        a TimeDistributed (matterport's wrapping), else `layer` itself."""
        while isinstance(layer, keras.layers.TimeDistributed):
            layer = layer.layer
        return layer

    def get_trainable_layers(self):
        """Layers of keras_model that hold weights (matterport's
        inspect_weights notebook and display_weight_stats list them)."""
        return [layer for layer in map(self.find_trainable_layer, self.keras_model.layers)
                if layer.weights]

    def set_trainable(self, layer_regex, keras_model=None, indent=0, verbose=1):
        """Sets model layers as trainable if their names match
        the given regular expression."""
        return set_trainable(keras_model or self.keras_model, layer_regex, verbose=verbose,
                             backbone=self.config.BACKBONE)

    def train(self, train_dataset, val_dataset, learning_rate, epochs, layers,
              augmentation=None, custom_callbacks=None, no_augmentation_sources=None,
              verbose=1):
        """Train the model.

        train_dataset, val_dataset: Training and validation Dataset objects.
        learning_rate: The learning rate to train with: a float or a keras
            LearningRateSchedule (it follows the optimizer's iteration count,
            which a resumed run continues); None takes the resumed
            checkpoint's (else Config.LEARNING_RATE).
        epochs: Number of training epochs. Note that previous training epochs
                are considered to be done already, so this actually determines
                the epochs to train in total rather than in this particular
                call.
        layers: Allows selecting which layers to train. It can be:
            - A regular expression to match layer names to train
            - One of these predefined values:
              heads: The RPN, classifier and mask heads of the network
              all: All the layers
              3+: Train Resnet stage 3 and up
              4+: Train Resnet stage 4 and up
              5+: Train Resnet stage 5 and up
        augmentation: Optional. An albumentations transform or an imgaug
            augmenter applied to images and masks together. Without it,
            Config.AUGMENTATION selects a preset ("default") or none.
        custom_callbacks: Optional. Add custom callbacks to be called
            with the keras fit() method. Must be list of type keras.callbacks.
        no_augmentation_sources: Optional. List of dataset sources whose
            images are not augmented.
        verbose: 1 prints the starting epoch, the checkpoint path and the
            layers that train, as matterport did (logged at INFO instead
            when logging is configured); 0 logs the first two at INFO only.

        Returns: the keras History of this call.
        Raises mrcnn.errors.TrainingDiverged at the first NaN/inf loss, or
        when an epoch ends with non-finite weights (never checkpointed): the
        message names the step, the batch's images and the last checkpoint.

        In a cluster (TF_CONFIG; mrcnn.training.cluster) every worker calls
        it alike and trains the chief's run, on its own part of each batch;
        only the chief writes files. Raises mrcnn.training.cluster.WorkerLost
        when a worker stops, ClusterError when one trains something else.
        """
        assert self.mode == "training", "Create model in training mode."
        config = self.config

        # A `layers=` name ("heads", "3+", ...) as the regex it stands for.
        layers = layers_regex(layers, config.BACKBONE)
        # The config may have changed since the network was built.
        self._build_for(self.norm)

        if augmentation is None and config.AUGMENTATION:
            from mrcnn.data.augmentation import augmentation_from_config

            augmentation = augmentation_from_config(config)

        # Data generators: global batches of BATCH_SIZE images, which fit()
        # splits into IMAGES_PER_GPU per replica under a MirroredStrategy.
        # There Keras averages a first batch across replicas to build the
        # model, which bool masks cannot take: they come as uint8.
        mask_dtype = np.uint8 if is_distributed(self.strategy) else bool
        # On several machines every worker trains the chief's run (folder,
        # data seed), each on its own replicas' images of every global batch;
        # only the chief writes files.
        cluster = Cluster.from_strategy(self.strategy)
        if cluster is not None:
            if cluster.is_chief:
                self.prepare_log_dir()
            with peer_failures(cluster):
                self.data_seed, self.log_dir = join_chief_run(
                    self.strategy, cluster, self.data_seed, self.log_dir, self.epoch, config,
                    (train_dataset, val_dataset))
            self._set_checkpoint_path()
            self._log_dir_is_ours = True
        shard = cluster.shard if cluster else None
        # The run's data seed and the epoch reached make the image order of a
        # resumed run the uninterrupted run's.
        train_generator = DataGenerator(train_dataset, config, shuffle=True,
                                        augmentation=augmentation, mask_dtype=mask_dtype,
                                        seed=self.data_seed, initial_epoch=self.epoch,
                                        repeat_factor_threshold=config.REPEAT_FACTOR_THRESHOLD,
                                        no_augmentation_sources=no_augmentation_sources,
                                        shard=shard)
        val_generator = DataGenerator(val_dataset, config, shuffle=True,
                                      steps=config.VALIDATION_STEPS, mask_dtype=mask_dtype,
                                      seed=self.data_seed + 1, initial_epoch=self.epoch,
                                      shard=shard) if val_dataset else None

        if cluster is None:
            self.prepare_log_dir()

        callbacks, data_health = fit_callbacks(
            self, train_dataset, val_dataset, train_generator, val_generator,
            augmentation=augmentation, layers=layers, cluster=cluster,
            custom_callbacks=custom_callbacks)

        # Train
        trainable = self.set_trainable(layers, verbose=0)
        learning_rate = self._prepare_optimizer(learning_rate)
        say = inform if verbose else logging.Logger.info
        say(logger, "Starting at epoch %d. LR=%s", self.epoch, learning_rate)
        say(logger, "%s", describe_devices(self.strategy))
        say(logger, "Checkpoint Path: %s", self.checkpoint_path)
        if verbose:
            say(logger, "TensorBoard: tensorboard --logdir %s", self.model_dir)
            say(logger, "Selecting layers to train")
            for name in trainable:
                say(logger, "%-20s (%s)", name, type(self.keras_model.get_layer(name)).__name__)
        if epochs <= self.epoch:
            logger.warning("Nothing to train: the run is at epoch %d and epochs=%d counts all "
                           "epochs, the done ones included; pass a larger epochs", self.epoch, epochs)

        if cluster is not None:
            # Per-replica batches, no tf.data rebatching or auto-sharding.
            train_input = worker_input(train_generator, self.strategy)
            val_input = worker_input(val_generator, self.strategy) if val_generator else None
        else:
            train_input, val_input = train_generator, val_generator
        with peer_failures(cluster):
            history = self.keras_model.fit(
                train_input,
                initial_epoch=self.epoch,
                epochs=epochs,
                steps_per_epoch=config.STEPS_PER_EPOCH,
                callbacks=callbacks,
                validation_data=val_input,
                validation_steps=config.VALIDATION_STEPS if val_generator else None,
                verbose=1 if logger.isEnabledFor(logging.INFO) else 2,
            )
            if cluster is not None:
                # Every worker returns once the chief has written the last checkpoint.
                wait_for_all_workers(self.strategy)
        if data_health.stop_message:
            raise UnreadableImagesError(data_health.stop_message)
        # self.epoch is the last epoch done (EpochCheckpoint sets it), also
        # when a callback stopped training before `epochs`.
        return history

    def validation_detector(self):
        """A `detect` function that uses the training model's current weights:
        an inference model of the same config, built once and refreshed by
        layer name at each call (for evaluation callbacks)."""
        twin = self._inference_twin
        # The twin loads no file: it normalises as the weights it is given.
        if twin is None or twin.normalization != self.normalization:
            config = copy.copy(self.config)
            # mAP ranks every detection (as `evaluate` does); the images
            # callback applies DETECTION_MIN_CONFIDENCE itself.
            config.DETECTION_MIN_CONFIDENCE = EVALUATION_MIN_CONFIDENCE
            config.NORMALIZATION = self.normalization
            twin = self._inference_twin = MaskRCNN("inference", config, self.model_dir)
        copy_weights_by_name(self.keras_model, twin.keras_model)
        return twin.detect

    # ---- inference ------------------------------------------------------------
    def mold_inputs(self, images):
        """Takes a list of images and modifies them to the format expected
        as an input to the neural network (mrcnn.data.molding.mold_inputs).

        Returns molded_images float32 [N, h, w, 3], image_metas
        [N, IMAGE_META_SIZE], windows int [N, (y1, x1, y2, x2)].
        """
        return mold_inputs(images, self.config)

    def unmold_detections(self, detections, mrcnn_mask, original_image_shape,
                          image_shape, window):
        """The detections of one image in its original pixels
        (mrcnn.data.molding.unmold_detections): boxes int32 [N, 4],
        class_ids int32 [N], scores float32 [N], masks bool [H, W, N]."""
        return unmold_detections(detections, mrcnn_mask, original_image_shape, image_shape,
                                 window)

    def _predict(self, molded_images, image_metas):
        """Runs the inference graph on one batch; returns a dict of numpy arrays."""
        import tensorflow as tf

        if self._predict_function is None:
            model = self.keras_model

            @tf.function(reduce_retracing=True, autograph=False)
            def predict(images, metas):
                return model({"input_image": images, "input_image_meta": metas},
                             training=False)

            self._predict_function = predict
        outputs = self._predict_function(
            tf.convert_to_tensor(molded_images, tf.float32),
            tf.convert_to_tensor(image_metas, tf.float32))
        return {k: v.numpy() for k, v in outputs.items()}

    def detect(self, images, verbose=0):
        """Runs the detection pipeline.

        images: List of images, potentially of different sizes. Any number of
            images: they run in batches of at most BATCH_SIZE.

        Returns a list of dicts, one dict per image. The dict contains:
        rois: int32 [N, (y1, x1, y2, x2)] detection bounding boxes
        class_ids: int32 [N] class IDs
        scores: float32 [N] float probability scores for the class IDs
        masks: bool [H, W, N] instance binary masks, at the original image size
        """
        assert self.mode == "inference", "Create model in inference mode."
        images = list(images)
        if verbose:
            log("Processing {} images".format(len(images)))
            for image in images:
                log("image", image)
        results = [None] * len(images)
        batch = max(1, self.config.BATCH_SIZE)
        # Images of different molded shapes (pad64/none) cannot share a batch.
        molded = [self.mold_inputs([image]) for image in images]
        by_shape = {}
        for index, (m, _, _) in enumerate(molded):
            by_shape.setdefault(m.shape[1:], []).append(index)
        for indices in by_shape.values():
            for start in range(0, len(indices), batch):
                chunk = indices[start:start + batch]
                molded_images = np.concatenate([molded[i][0] for i in chunk])
                image_metas = np.concatenate([molded[i][1] for i in chunk])
                if verbose:
                    log("molded_images", molded_images)
                    log("image_metas", image_metas)
                out = self._predict(molded_images, image_metas)
                # matterport kept the last batch's anchors (pixels) for notebooks.
                self.get_anchors(molded_images[0].shape)
                for j, i in enumerate(chunk):
                    rois, class_ids, scores, masks = self.unmold_detections(
                        out["detections"][j], out["mrcnn_mask"][j], images[i].shape,
                        molded_images[j].shape, molded[i][2][0])
                    results[i] = {"rois": rois, "class_ids": class_ids,
                                  "scores": scores, "masks": masks}
        return results

    def detect_molded(self, molded_images, image_metas, verbose=0):
        """Runs the detection pipeline on images already molded (e.g. by
        load_image_gt + mold_image). Boxes and masks are in the molded image's
        coordinates, as matterport returned them."""
        assert self.mode == "inference", "Create model in inference mode."
        out = self._predict(np.asarray(molded_images, np.float32),
                            np.asarray(image_metas, np.float32))
        results = []
        for i, image in enumerate(molded_images):
            window = [0, 0, image.shape[0], image.shape[1]]
            rois, class_ids, scores, masks = self.unmold_detections(
                out["detections"][i], out["mrcnn_mask"][i], image.shape, image.shape, window)
            results.append({"rois": rois, "class_ids": class_ids,
                            "scores": scores, "masks": masks})
        return results

    def get_anchors(self, image_shape):
        """Returns anchor pyramid for the given image size, in normalized
        coordinates. The pixel anchors are kept in `self.anchors`, as
        matterport did."""
        self.anchors = get_anchors(self.config, image_shape, normalized=False)
        return get_anchors(self.config, image_shape, normalized=True)

    def compute_backbone_shapes(self, image_shape):
        return compute_backbone_shapes(self.config, image_shape)

    # ---- inspection and evaluation (notebooks, mrcnn evaluate) -----------------
    def ancestor(self, tensor, name, checked=None):
        """Finds the ancestor of a tensor in the computation graph, as
        matterport's inspect_model notebook uses it:
        `model.ancestor(model.keras_model.get_layer("ROI").output,
        "ROI/pre_nms_anchors:0")`.

        tensor: a KerasTensor of keras_model. name: "<layer>/<step>:0" for a
            step inside a layer (the proposal layer "ROI" shows
            pre_nms_anchors, refined_anchors, refined_anchors_clipped and
            rpn_non_max_suppression), or "<layer>:<i>" for a layer's output.
        Returns what run_graph takes, or None when nothing of that name
        precedes `tensor` (see mrcnn.graph_inspection).
        """
        return graph_inspection.ancestor(tensor, name, checked)

    def run_graph(self, images, outputs, image_metas=None):
        """Runs a sub-set of the computation graph that computes the given
        outputs, and prints and returns their values by name, as
        matterport's inspect_model notebook uses it.

        images: list of images (uint8 [H, W, 3]), molded here as detect()
            does them; or, with image_metas, molded images float32
            [N, h, w, 3] (e.g. mold_image of load_image_gt's image).
        outputs: list of (name, tensor) pairs; tensor: a KerasTensor of the
            inference model (`model.keras_model.get_layer("ROI").output`,
            any layer called once), what `ancestor()` returns, or a string:
            an output of the inference model ("rpn_class", "detections",
            "mrcnn_mask", ...) or a layer name. `get_layer("mrcnn_mask")`
            gives matterport's [N, detections, h, w, classes] probabilities.
        image_metas: float32 [N, IMAGE_META_SIZE] of molded `images`.
        Returns: OrderedDict name -> numpy array, batch axis first (an NMS
        index list is the first image's); also "molded_images",
        "image_metas" and "windows" (None with image_metas) of the inputs.
        Sets `self.anchors` to the molded size's anchors in pixels.
        """
        assert self.mode == "inference", "Create model in inference mode."
        if image_metas is None:
            molded_images, image_metas, windows = self.mold_inputs(list(images))
        else:
            molded_images, windows = np.asarray(images, np.float32), None
            image_metas = np.asarray(image_metas, np.float32)
        self.get_anchors(molded_images[0].shape)
        result = graph_inspection.run_graph(
            self.keras_model,
            {"input_image": molded_images, "input_image_meta": image_metas}, outputs)
        for name, value in result.items():
            log(name, value)
        result.update(molded_images=molded_images, image_metas=image_metas, windows=windows)
        return result

    def evaluate(self, dataset, image_ids=None, limit=None, iou_type="segm", **kwargs):
        """COCO evaluation of this model (inference mode) on a prepared
        Dataset: mrcnn.coco_eval.evaluate_coco with `self.detect`, a progress
        bar over images. kwargs: results_path, progress, ... of evaluate_coco.

        Returns: the metrics dict of evaluate_coco ("segm"/"bbox" blocks with
        AP, AP50, ..., per_class; print it with
        mrcnn.coco_report.print_metrics_table).
        """
        from mrcnn.coco_eval import evaluate_coco

        assert self.mode == "inference", "Create model in inference mode."
        return evaluate_coco(dataset, self.detect, image_ids=image_ids, limit=limit,
                             iou_type=iou_type, **kwargs)
