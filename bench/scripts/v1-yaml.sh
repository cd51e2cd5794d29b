# Sourced by the smoothing bench scripts: writes a V1 YAML of optional processors followed by
# linear_quant with QCONFIG (a flow-style QConfig), saved in the Ascend V1 format.
#
#   v1_yaml FILE QCONFIG [PROCESSOR...]
v1_yaml() {
  {
    echo "apiversion: modelslim_v1"
    echo "spec:"
    echo "  process:"
    for processor in "${@:3}"; do
      [ -n "$processor" ] && echo "    - $processor"
    done
    echo "    - {type: linear_quant, qconfig: $2, include: ['*']}"
    echo "  save: [{type: ascendv1_saver, part_file_size: 4}]"
  } >"$1"
}
