"""What the `mrcnn` commands do, one module per command; `mrcnn.cli` only
parses the command line and hands the parsed arguments over.

    project.py   Project (what a sample hands to the CLI), building the Config
    datasets.py  train/val(/test) parts: split folders, split files, image lists
                 or a seeded stratified split; the reader options of the flags
    validate.py  every image and annotation checked, class statistics
    split.py     a deterministic, stratified train/val split of an annotation file
    convert.py   a dataset of any readable format written as COCO, LabelMe, VIA or YOLO-seg
    session.py   --weights resolution, the model, class names
    train.py     staged training (Config.TRAINING_SCHEDULE)
    evaluate.py  COCO metrics and matterport's mAP@0.5 on the val/test part
    predict.py   detections on image files (PNGs + COCO results, or LabelMe JSONs)
                 or on a video (drawn MP4 + JSON lines)
    labelme.py   masks -> LabelMe polygon shapes (model-assisted annotation)
    splash.py    matterport's colour splash on an image or a video
    serve.py     the HTTP service (mrcnn.serving) of an exported model or a checkpoint
    export.py    a checkpoint as a SavedModel (mrcnn.export)
    video.py     video files in and out (OpenCV), the MP4 codec, the frame loop
"""


class UsageError(ValueError):
    """A flag has a bad value: the CLI prints the usage and this message."""
