// The deployed-form table: one row per description tag (spec msmodelslim-v1.md §2.6, §6, §7.3,
// §7.8), holding everything Slim knows about a form apart from its numerics and file layouts:
// the JSON tag, the CLI scheme name, the activation/weight scheme pairing, the kind of
// activations and the model_quant_type priority. tag_name, model_type_priority,
// select_deployed_tag, DeployedLinear::validate, the savers' check(), `slim convert --scheme` and
// the tests all read it. Adding a form is one row here plus its numerics (deploy_linear /
// make_deployed_linear's layout, each saver's tensors). Which formats hold a form is each
// saver's check() (export/quantized_saver.h), which starts from check_form below.
#pragma once

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "slim/quant/scheme.h"

namespace slim::quant {

// The symmetry a scope accepts; None: the scope itself is not accepted.
enum class Symmetry { None, Sym, Asym, Either };

// What a scheme must be on one side (activations or weights) of a form: `dtype` with `scope` in
// `symmetry`, or (weights) with per_group in `per_group`. Group sizes: per_group any positive
// one; MX (per_block) 32 (or 0, read as 32); other scopes none.
struct SchemeRule {
  QDtype dtype;
  QScope scope;
  Symmetry symmetry;
  Symmetry per_group;

  bool accepts(const QScheme& scheme) const;  // dtype, scope and symmetry (not the group size)
  // "int8 per_channel sym" / "int8 per_group sym|asym" — one text per accepted scope.
  std::vector<std::string> alternatives() const;
};

// How a form's activations are quantized, if at all.
enum class Activations {
  None,     // weight-only: activations stay in the model dtype
  Dynamic,  // at run time by the engine (per token, MX blocks): nothing stored
  Static,   // calibrated scale/offset stored with the linear (input_scale, input_offset)
};

// model_quant_type priority of a tag that never becomes the model type.
inline constexpr int kNoModelTypePriority = -1;

struct DeployedFormSpec {
  DeployedTag tag;
  const char* name;      // the description tag, tag_name(): "W8A8_DYNAMIC"
  const char* cli_name;  // the scheme name of `slim convert --scheme`: "w8a8_dynamic" ("": none)
  SchemeRule act;
  SchemeRule weight;
  Activations activations;
  int model_type_priority;  // §7.8, higher wins; kNoModelTypePriority
  // Whether select_deployed_tag gives this tag for its pairing. W16A16S shares FLOAT's float
  // schemes; the pruning algorithm that produces it sets the tag.
  bool selected_by_schemes;
  // The group size `slim convert` uses when --group_size is not given (0: per channel).
  int64_t default_group_size;
  const char* summary;  // one line for --help and docs
};

// Every row, in DeployedTag order.
c10::ArrayRef<DeployedFormSpec> deployed_form_table();
const DeployedFormSpec& deployed_form_spec(DeployedTag tag);
// The row whose cli_name is `name`, or nullptr.
const DeployedFormSpec* find_form_by_cli_name(const std::string& name);

// Throws slim::Error when no linear can deploy as `form`: its schemes are not the tag's pairing
// (the message lists the tag's valid pairs), or a group size is wrong (per_group needs a positive
// one, MX blocks are 32).
void check_form(const DeployedForm& form);

// The concrete form of `spec`: weights per_group with `group_size` when it is positive (else in
// the row's main scope), asymmetric when `asym_weights`; activations symmetric unless the row
// accepts only asymmetric ones (W8A8_MIX); MX sides get group size 32. Throws when the row has no
// such variant.
DeployedForm make_form(const DeployedFormSpec& spec, int64_t group_size = 0,
                       bool asym_weights = false);
// Every concrete form of a row: each accepted weight scope (per_group with `group_size`) and
// symmetry, times each accepted activation symmetry. For loops over "every form" (tests, docs).
std::vector<DeployedForm> forms_of(const DeployedFormSpec& spec, int64_t group_size);
// forms_of over the whole table.
std::vector<DeployedForm> every_form(int64_t group_size);

}  // namespace slim::quant
