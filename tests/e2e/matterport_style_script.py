"""A user's script written the matterport way (own Config, own Dataset that
generates discs and bars on noise, train layers="all" from scratch, then an
inference model, find_last, load_image_gt, detect, compute_ap).

Run directly: python tests/e2e/matterport_style_script.py LOG_DIR
Prints "mAP@0.5: <value>" as its last line.
"""
import os
import sys

import numpy as np
import skimage.draw

from mrcnn import utils
from mrcnn.config import Config
import mrcnn.model as modellib
from mrcnn.model import log  # noqa: F401  (the import tutorials use)


class DiscsConfig(Config):
    NAME = "discs"
    GPU_COUNT = 1
    IMAGES_PER_GPU = 2
    NUM_CLASSES = 1 + 2  # background + disc + bar
    IMAGE_MIN_DIM = 128
    IMAGE_MAX_DIM = 128
    RPN_ANCHOR_SCALES = (8, 16, 32, 64, 128)
    TRAIN_ROIS_PER_IMAGE = 32
    STEPS_PER_EPOCH = 50
    VALIDATION_STEPS = 5


class DiscsDataset(utils.Dataset):
    def load_discs(self, count, height, width, seed):
        self.add_class("discs", 1, "disc")
        self.add_class("discs", 2, "bar")
        rng = np.random.RandomState(seed)
        for i in range(count):
            objects = []
            for _ in range(rng.randint(1, 4)):
                kind = rng.choice(["disc", "bar"])
                y, x = rng.randint(20, height - 20), rng.randint(20, width - 20)
                size = rng.randint(8, 20)
                objects.append((kind, y, x, size))
            self.add_image("discs", image_id=i, path=None, width=width, height=height,
                           objects=objects, noise_seed=rng.randint(1 << 30))

    def load_image(self, image_id):
        info = self.image_info[image_id]
        rng = np.random.RandomState(info["noise_seed"])
        image = rng.randint(0, 100, (info["height"], info["width"], 3)).astype(np.uint8)
        mask, class_ids = self.load_mask(image_id)
        for i, class_id in enumerate(class_ids):
            color = (255, 220, 40) if class_id == 1 else (40, 120, 255)
            image[mask[:, :, i]] = color
        return image

    def load_mask(self, image_id):
        info = self.image_info[image_id]
        h, w = info["height"], info["width"]
        mask = np.zeros([h, w, len(info["objects"])], dtype=np.uint8)
        for i, (kind, y, x, size) in enumerate(info["objects"]):
            if kind == "disc":
                rr, cc = skimage.draw.disk((y, x), size, shape=(h, w))
            else:
                rr, cc = skimage.draw.rectangle((y - size // 3, x - size), (y + size // 3, x + size),
                                                shape=(h, w))
            mask[rr, cc, i] = 1
        # Later objects cover earlier ones.
        for i in range(mask.shape[-1] - 1):
            mask[:, :, i] = mask[:, :, i] * np.logical_not(mask[:, :, i + 1:].any(-1))
        class_ids = np.array([self.class_names.index(o[0]) for o in info["objects"]])
        return mask.astype(bool), class_ids.astype(np.int32)


def main(model_dir):
    config = DiscsConfig()
    dataset_train = DiscsDataset()
    dataset_train.load_discs(500, 128, 128, seed=1)
    dataset_train.prepare()
    dataset_val = DiscsDataset()
    dataset_val.load_discs(50, 128, 128, seed=2)
    dataset_val.prepare()

    model = modellib.MaskRCNN(mode="training", config=config, model_dir=model_dir)
    model.train(dataset_train, dataset_val, learning_rate=config.LEARNING_RATE,
                epochs=8, layers="all")

    class InferenceConfig(DiscsConfig):
        GPU_COUNT = 1
        IMAGES_PER_GPU = 1

    inference_config = InferenceConfig()
    model = modellib.MaskRCNN(mode="inference", config=inference_config, model_dir=model_dir)
    model.load_weights(model.find_last(), by_name=True)

    dataset_test = DiscsDataset()
    dataset_test.load_discs(50, 128, 128, seed=3)
    dataset_test.prepare()
    APs = []
    for image_id in dataset_test.image_ids:
        image, image_meta, gt_class_id, gt_bbox, gt_mask = modellib.load_image_gt(
            dataset_test, inference_config, image_id)
        results = model.detect([image], verbose=0)
        r = results[0]
        AP, precisions, recalls, overlaps = utils.compute_ap(
            gt_bbox, gt_class_id, gt_mask, r["rois"], r["class_ids"], r["scores"], r["masks"])
        APs.append(AP)
    print("mAP@0.5:", np.mean(APs))
    return float(np.mean(APs))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.getcwd(), "logs"))
