"""MS-COCO's 80 object classes as matterport's mask_rcnn_coco.h5 numbers them.

The index in `COCO_CLASS_NAMES` is the class id the network predicts: 0 is
"BG", 1 "person", ..., 80 "toothbrush" (matterport's samples/demo.ipynb
`class_names`). matterport's CocoDataset gave the categories ids in the order
of their COCO category ids, which skip numbers (12, 26, 29, 30, ...);
`COCO_CATEGORY_IDS[i]` is the COCO category id of class id i (0 for BG), for
writing results in COCO's numbering.
"""

COCO_CLASS_NAMES = [
    'BG', 'person', 'bicycle', 'car', 'motorcycle', 'airplane',
    'bus', 'train', 'truck', 'boat', 'traffic light',
    'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird',
    'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear',
    'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie',
    'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball',
    'kite', 'baseball bat', 'baseball glove', 'skateboard',
    'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup',
    'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
    'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza',
    'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
    'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster',
    'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush',
]

# COCO's category ids of the classes above, in the same order.
COCO_CATEGORY_IDS = [0, *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66),
                     67, 70, *range(72, 83), *range(84, 91)]

# What Config.CLASS_NAMES holds ("BG" excluded), e.g. configs/coco.yaml.
COCO_CLASSES = COCO_CLASS_NAMES[1:]
