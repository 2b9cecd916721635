"""Configuration precedence, validation and the TOML round trip."""

import re

import pytest
import tomllib

from reportgen.config import BuildConfig, config_to_toml, load_config_file, resolve_config
from reportgen.errors import ConfigError


def test_defaults_then_file_then_flags(tmp_path):
    config_file = tmp_path / "report.toml"
    config_file.write_text('images = 12\nseed = 7\n[build]\nsteps = 20\n')
    values = load_config_file(config_file)
    config = resolve_config(file_values=values, flag_values={"seed": 9})
    assert config.images == 12  # file beats default
    assert config.steps == 20  # [build] table is read
    assert config.seed == 9  # flag beats file
    assert config.batch_size == BuildConfig().batch_size  # default kept
    assert config.methods == ("integrated_gradients", "grad_cam", "lime")  # the registry's defaults


def test_methods_accept_list_or_comma_separated():
    assert resolve_config(flag_values={"methods": "lime, grad_cam"}).methods == ("lime", "grad_cam")
    assert resolve_config(file_values={"methods": ["lime"]}).methods == ("lime",)


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"target": "truth"}, "invalid target 'truth'; choose from: predicted, label"),
        ({"deletion_substrate": "grey"}, "invalid deletion_substrate 'grey'; choose from: black, white, mean, blur"),
        ({"images": 0}, "'images' must be at least 1"),
        ({"images": "many"}, "'images' must be a whole number"),
        ({"train_fraction": 1.5}, "'train_fraction' must be in (0, 1]"),
        ({"pdf": "yes"}, "'pdf' must be true or false"),
        ({"methods": ["lime", "lime"]}, "names a method twice"),
        ({"colour": "red"}, "unknown option 'colour'"),
    ],
)
def test_invalid_values_name_the_key_and_the_valid_values(values, fragment):
    with pytest.raises(ConfigError) as raised:
        resolve_config(file_values=values)
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)


def test_unknown_file_key_lists_valid_keys(tmp_path):
    config_file = tmp_path / "bad.toml"
    config_file.write_text("imagez = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'imagez' in config file .*valid keys: .*images"):
        load_config_file(config_file)


def test_malformed_and_missing_files_are_config_errors(tmp_path):
    malformed = tmp_path / "broken.toml"
    malformed.write_text("images = [1,\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config_file(malformed)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "absent.toml")


def test_resolved_config_round_trips_through_toml():
    config = resolve_config(flag_values={"images": 4, "methods": "lime", "title": 'say "hi"\\'})
    reread = tomllib.loads(config_to_toml(config))["build"]
    assert resolve_config(file_values=reread) == config


def test_method_settings_from_tables_and_set_assignments(tmp_path):
    config_file = tmp_path / "report.toml"
    config_file.write_text('[build]\nmethods = ["lime", "grad_cam"]\n\n[methods.lime]\nnum_samples = 200\n'
                           'hide_color = 0.5\n')
    config = resolve_config(file_values=load_config_file(config_file),
                            settings=["lime.num_samples=300", "grad_cam.target_layer=backbone.layer3.1"])
    assert config.methods == ("lime", "grad_cam")
    assert config.settings_for("lime") == {"num_samples": 300, "hide_color": 0.5}  # --set beats the file
    assert config.settings_for("grad_cam") == {"target_layer": "backbone.layer3.1"}  # a plain string needs no quotes
    assert config.settings_for("integrated_gradients") == {}


@pytest.mark.parametrize(
    "assignment, fragment",
    [
        ("lime.num_sample=5", "lime: unknown setting 'num_sample'; valid settings: hide_color, kernel_size"),
        ("lime.num_samples=many", "lime: setting num_samples='many' is invalid; use an integer >= 2"),
        ("integrated_gradients.baseline=red", "choose from: black, white, blur"),
        ("limo.num_samples=5", "unknown method 'limo'; choose from: "),
        ("lime=5", "is not METHOD.SETTING=VALUE"),
    ],
)
def test_invalid_method_settings_name_the_valid_ones(assignment, fragment):
    with pytest.raises(ConfigError) as raised:
        resolve_config(settings=[assignment])
    assert fragment in str(raised.value)


def test_a_key_that_became_a_method_setting_says_where_it_went(tmp_path):
    config_file = tmp_path / "old.toml"
    config_file.write_text("lime_samples = 500\n")
    with pytest.raises(ConfigError, match=r"now a method setting: use \[methods.lime\] num_samples"):
        load_config_file(config_file)


def test_images_beyond_the_evaluation_limit_are_refused_before_any_work():
    with pytest.raises(ConfigError, match=r"'images' \(40\) is larger than 'eval_limit' \(30\)"):
        resolve_config(flag_values={"images": 40, "eval_limit": 30})


def test_method_settings_round_trip_through_the_written_toml(tmp_path):
    config = resolve_config(settings=["lime.num_samples=64", "grad_cam.target_layer=backbone.layer3.1"])
    written = tmp_path / "config.toml"
    written.write_text(config_to_toml(config))
    assert resolve_config(file_values=load_config_file(written)) == config


@pytest.mark.parametrize("flags, fragment", [
    ({"gallery": -1}, "option 'gallery' must be 0 or more"),
    ({"executor": "dask"}, "invalid executor 'dask'; choose from: local, ray"),
    ({"executor": "ray", "shard": "1/2"}, "--executor ray runs every shard itself"),
    ({"executor": "ray", "shards": 16, "images": 30}, "use at most 15"),
    ({"shards": 2}, "--shards only applies with --executor ray"),
    ({"ray_address": "auto"}, "--ray-address only applies with --executor ray"),
])
def test_impossible_gallery_and_executor_options_are_refused(flags, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        resolve_config(flag_values=flags)
