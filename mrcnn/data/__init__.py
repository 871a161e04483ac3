"""Datasets: the base class, format readers, validation and the input pipeline."""
from mrcnn.data.annotated import AnnotatedDataset  # noqa: F401
from mrcnn.data.coco import COCODataset  # noqa: F401
from mrcnn.data.dataset import Dataset  # noqa: F401
from mrcnn.data.errors import DatasetError, FormatError, OptionError, UnsafePathError  # noqa: F401
from mrcnn.data.export import export_coco, to_coco_dict  # noqa: F401
from mrcnn.data.label_map import ClassSubset, LabelMap, filter_detections, read_label_map  # noqa: F401
from mrcnn.data.labelme import LabelMeDataset  # noqa: F401
from mrcnn.data.mask_folders import MaskFoldersDataset  # noqa: F401
from mrcnn.data.merge import MergedDataset, merge_datasets  # noqa: F401
from mrcnn.data.openimages import OpenImagesDataset  # noqa: F401
from mrcnn.data.problems import ProblemLog  # noqa: F401
from mrcnn.data.read import detect_format, read_coco, read_dataset  # noqa: F401
from mrcnn.data.split import split_annotations, stratified_split  # noqa: F401
from mrcnn.data.validate import ValidationReport, validate_dataset  # noqa: F401
from mrcnn.data.via import VIADataset  # noqa: F401
from mrcnn.data.voc import VOCDataset  # noqa: F401
