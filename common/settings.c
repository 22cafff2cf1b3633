/*
 * settings.c: AWS DMS task settings read and checked, with the defaults of
 * dms-inventory (see settings.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mapping.h"
#include "settings.h"
#include "dms.h"

static const char *const prep_names[] = { "DROP_AND_CREATE", "TRUNCATE_BEFORE_LOAD", "DO_NOTHING" };
static const char *const policy_names[] = { "LOG_ERROR", "IGNORE_RECORD", "SUSPEND_TABLE", "STOP_TASK",
					    "INSERT_RECORD", "UPDATE_RECORD" };

const char *
prep_mode_name(enum prep_mode m)
{
	return prep_names[m];
}

bool
prep_mode_parse(const char *s, enum prep_mode *m)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, prep_names[i]) == 0) {
			*m = (enum prep_mode)i;
			return true;
		}
	return false;
}

const char *
error_policy_name(enum error_policy p)
{
	return policy_names[p];
}

void
settings_defaults(struct task_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->control_schema = xstrdup("dms");
	s->support_lobs = true;
	s->limited_lob_mode = true;
	s->lob_max_size_kb = 32;
	s->prep_mode = PREP_DROP_AND_CREATE;
	s->max_full_load_subtasks = 8;
	s->commit_rate = 10000;
	s->thread_count = 5;
	s->partition_size = 10000;
	s->failure_max_count = 10000;
	s->table_failure_max_count = 1000;
	s->apply_delete_policy = POLICY_IGNORE_RECORD;
	s->handle_dropped = s->handle_truncated = s->handle_altered = true;
	s->min_transaction_size = 1000;
	s->commit_timeout = 1;
	s->batch_timeout_min = 1;
	s->batch_timeout_max = 30;
	s->batch_memory_mb = 500;
}

void
settings_free(struct task_settings *s)
{
	free(s->target_schema);
	free(s->control_schema);
	memset(s, 0, sizeof(*s));
}

/* The keys dms acts on, as "Section.Key". */
static const char *const known[] = {
	"TargetMetadata.TargetSchema", "TargetMetadata.SupportLobs", "TargetMetadata.FullLobMode",
	"TargetMetadata.LimitedSizeLobMode", "TargetMetadata.LobMaxSize",
	"FullLoadSettings.TargetTablePrepMode", "FullLoadSettings.CreatePkAfterFullLoad",
	"FullLoadSettings.MaxFullLoadSubTasks", "FullLoadSettings.CommitRate",
	"FullLoadSettings.StopTaskCachedChangesApplied", "FullLoadSettings.StopTaskCachedChangesNotApplied",
	"ErrorBehavior.DataErrorPolicy", "ErrorBehavior.DataTruncationErrorPolicy",
	"ErrorBehavior.ApplyErrorInsertPolicy", "ErrorBehavior.ApplyErrorUpdatePolicy",
	"ErrorBehavior.ApplyErrorDeletePolicy", "ErrorBehavior.ApplyErrorEscalationPolicy",
	"ErrorBehavior.ApplyErrorEscalationCount", "ErrorBehavior.ApplyErrorFailOnTruncationDdl",
	"ChangeProcessingDdlHandlingPolicy.HandleSourceTableDropped",
	"ChangeProcessingDdlHandlingPolicy.HandleSourceTableTruncated",
	"ChangeProcessingDdlHandlingPolicy.HandleSourceTableAltered",
	"ChangeProcessingTuning.MinTransactionSize", "ChangeProcessingTuning.CommitTimeout",
	"TargetMetadata.BatchApplyEnabled", "ChangeProcessingTuning.BatchApplyTimeoutMin",
	"ChangeProcessingTuning.BatchApplyTimeoutMax", "ChangeProcessingTuning.BatchApplyMemoryLimit",
	"ChangeProcessingTuning.BatchSplitSize",
	"ControlTablesSettings.ControlSchema",
	"ValidationSettings.EnableValidation", "ValidationSettings.ValidationOnly",
	"ValidationSettings.ThreadCount", "ValidationSettings.PartitionSize",
	"ValidationSettings.FailureMaxCount", "ValidationSettings.TableFailureMaxCount",
	"ValidationSettings.HandleCollationDiff", "ValidationSettings.SkipLobColumns",
	"ValidationSettings.ValidationPartialLobSize",
};

static bool
is_known(const char *section, const char *key)
{
	char full[256];

	snprintf(full, sizeof(full), "%s.%s", section, key);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(full, known[i]) == 0)
			return true;
	return false;
}

/* A value that is its DMS default or empty is not worth a warning when ignored. */
static bool
is_empty(json_t *v)
{
	return json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0) ||
	       (json_is_object(v) && json_object_size(v) == 0) ||
	       (json_is_array(v) && json_array_size(v) == 0);
}

static bool
bad(const char *path, const char *section, const char *key, const char *want)
{
	log_error("%s: %s.%s: expected %s", path, section, key, want);
	return false;
}

static bool
get_bool(const char *path, json_t *sec, const char *section, const char *key, bool *out)
{
	json_t *v = json_object_get(sec, key);

	if (v == NULL)
		return true;
	if (!json_is_boolean(v))
		return bad(path, section, key, "true or false");
	*out = json_is_true(v);
	return true;
}

static bool
get_int(const char *path, json_t *sec, const char *section, const char *key, int64_t min,
	int64_t max, int64_t *out)
{
	json_t *v = json_object_get(sec, key);

	if (v == NULL)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		char want[96];

		snprintf(want, sizeof(want), "an integer from %lld to %lld", (long long)min,
			 (long long)max);
		return bad(path, section, key, want);
	}
	*out = json_integer_value(v);
	return true;
}

/* A policy of the four, or also extra (INSERT_RECORD, UPDATE_RECORD) where the key has one. */
static bool
get_policy_or(const char *path, json_t *sec, const char *key, enum error_policy extra,
	      enum error_policy *out)
{
	json_t *v = json_object_get(sec, key);
	char want[96];

	if (v == NULL)
		return true;
	for (int i = 0; json_is_string(v) && i <= POLICY_UPDATE_RECORD; i++)
		if (strcmp(json_string_value(v), policy_names[i]) == 0 &&
		    (i <= POLICY_STOP_TASK || i == (int)extra)) {
			*out = (enum error_policy)i;
			return true;
		}
	snprintf(want, sizeof(want), "LOG_ERROR, IGNORE_RECORD, SUSPEND_TABLE%s%s or STOP_TASK",
		 extra > POLICY_STOP_TASK ? ", " : "", extra > POLICY_STOP_TASK ? policy_names[extra] : "");
	return bad(path, "ErrorBehavior", key, want);
}

static bool
get_policy(const char *path, json_t *sec, const char *key, enum error_policy *out)
{
	return get_policy_or(path, sec, key, POLICY_LOG_ERROR, out);
}

bool
settings_load(const char *path, struct task_settings *s)
{
	json_t *root = json_file_load(path);
	json_t *tm, *fl, *eb, *ct, *vs, *dd, *tu, *v;
	struct strbuf ignored = STRBUF_INIT;
	const char *section;
	json_t *sec;
	int64_t n;
	bool ok = false;

	if (root == NULL) {
		settings_free(s);
		return false;
	}
	if (!json_is_object(root)) {
		log_error("%s: expected a JSON object of task settings", path);
		goto done;
	}
	s->from_file = true;
	tm = json_object_get(root, "TargetMetadata");
	fl = json_object_get(root, "FullLoadSettings");
	eb = json_object_get(root, "ErrorBehavior");
	ct = json_object_get(root, "ControlTablesSettings");
	vs = json_object_get(root, "ValidationSettings");
	dd = json_object_get(root, "ChangeProcessingDdlHandlingPolicy");
	tu = json_object_get(root, "ChangeProcessingTuning");
	if ((v = json_object_get(tm, "TargetSchema")) != NULL) {
		if (!json_is_string(v)) {
			bad(path, "TargetMetadata", "TargetSchema", "a string");
			goto done;
		}
		free(s->target_schema);
		s->target_schema = json_string_length(v) ? xstrdup(json_string_value(v)) : NULL;
	}
	if ((v = json_object_get(ct, "ControlSchema")) != NULL) {
		if (!json_is_string(v)) {
			bad(path, "ControlTablesSettings", "ControlSchema", "a string");
			goto done;
		}
		if (json_string_length(v)) {
			free(s->control_schema);
			s->control_schema = xstrdup(json_string_value(v));
		}
	}
	if (!get_bool(path, tm, "TargetMetadata", "SupportLobs", &s->support_lobs) ||
	    !get_bool(path, tm, "TargetMetadata", "FullLobMode", &s->full_lob_mode) ||
	    !get_bool(path, tm, "TargetMetadata", "LimitedSizeLobMode", &s->limited_lob_mode) ||
	    !get_int(path, tm, "TargetMetadata", "LobMaxSize", 0, INT32_MAX, &s->lob_max_size_kb) ||
	    !get_bool(path, fl, "FullLoadSettings", "CreatePkAfterFullLoad",
		      &s->create_pk_after_full_load) ||
	    !get_bool(path, fl, "FullLoadSettings", "StopTaskCachedChangesApplied", &s->stop_cached_applied) ||
	    !get_bool(path, fl, "FullLoadSettings", "StopTaskCachedChangesNotApplied",
		      &s->stop_cached_not_applied))
		goto done;
	n = s->max_full_load_subtasks;
	if (!get_int(path, fl, "FullLoadSettings", "MaxFullLoadSubTasks", 1, 49, &n))
		goto done;
	s->max_full_load_subtasks = (int)n;
	n = s->commit_rate;
	if (!get_int(path, fl, "FullLoadSettings", "CommitRate", 1, 50000, &n))
		goto done;
	s->commit_rate = (int)n;
	if ((v = json_object_get(fl, "TargetTablePrepMode")) != NULL &&
	    (!json_is_string(v) || !prep_mode_parse(json_string_value(v), &s->prep_mode))) {
		bad(path, "FullLoadSettings", "TargetTablePrepMode",
		    "DROP_AND_CREATE, TRUNCATE_BEFORE_LOAD or DO_NOTHING");
		goto done;
	}
	if (!get_policy(path, eb, "DataErrorPolicy", &s->data_error_policy) ||
	    !get_policy(path, eb, "DataTruncationErrorPolicy", &s->data_truncation_policy) ||
	    !get_policy_or(path, eb, "ApplyErrorInsertPolicy", POLICY_INSERT_RECORD, &s->apply_insert_policy) ||
	    !get_policy_or(path, eb, "ApplyErrorUpdatePolicy", POLICY_UPDATE_RECORD, &s->apply_update_policy) ||
	    !get_policy(path, eb, "ApplyErrorDeletePolicy", &s->apply_delete_policy) ||
	    !get_policy(path, eb, "ApplyErrorEscalationPolicy", &s->apply_escalation_policy) ||
	    !get_int(path, eb, "ErrorBehavior", "ApplyErrorEscalationCount", 0, INT64_MAX,
		     &s->apply_escalation_count) ||
	    !get_bool(path, eb, "ErrorBehavior", "ApplyErrorFailOnTruncationDdl", &s->apply_fail_on_truncation) ||
	    !get_bool(path, dd, "ChangeProcessingDdlHandlingPolicy", "HandleSourceTableDropped", &s->handle_dropped) ||
	    !get_bool(path, dd, "ChangeProcessingDdlHandlingPolicy", "HandleSourceTableTruncated",
		      &s->handle_truncated) ||
	    !get_bool(path, dd, "ChangeProcessingDdlHandlingPolicy", "HandleSourceTableAltered", &s->handle_altered) ||
	    !get_int(path, tu, "ChangeProcessingTuning", "MinTransactionSize", 1, 1000000,
		     &s->min_transaction_size) ||
	    !get_int(path, tu, "ChangeProcessingTuning", "CommitTimeout", 1, 3600, &s->commit_timeout) ||
	    !get_bool(path, tm, "TargetMetadata", "BatchApplyEnabled", &s->batch_apply) ||
	    !get_int(path, tu, "ChangeProcessingTuning", "BatchApplyTimeoutMin", 0, 86400, &s->batch_timeout_min) ||
	    !get_int(path, tu, "ChangeProcessingTuning", "BatchApplyTimeoutMax", 1, 86400, &s->batch_timeout_max) ||
	    !get_int(path, tu, "ChangeProcessingTuning", "BatchApplyMemoryLimit", 1, 1048576, &s->batch_memory_mb) ||
	    !get_int(path, tu, "ChangeProcessingTuning", "BatchSplitSize", 0, INT64_MAX, &s->batch_split_size))
		goto done;
	if (!get_bool(path, vs, "ValidationSettings", "EnableValidation", &s->enable_validation) ||
	    !get_bool(path, vs, "ValidationSettings", "ValidationOnly", &s->validation_only) ||
	    !get_bool(path, vs, "ValidationSettings", "HandleCollationDiff", &s->handle_collation_diff) ||
	    !get_bool(path, vs, "ValidationSettings", "SkipLobColumns", &s->skip_lob_columns) ||
	    !get_int(path, vs, "ValidationSettings", "PartitionSize", 1, 1000000, &s->partition_size) ||
	    !get_int(path, vs, "ValidationSettings", "FailureMaxCount", 1, INT64_MAX,
		     &s->failure_max_count) ||
	    !get_int(path, vs, "ValidationSettings", "TableFailureMaxCount", 1, INT64_MAX,
		     &s->table_failure_max_count) ||
	    !get_int(path, vs, "ValidationSettings", "ValidationPartialLobSize", 0, INT32_MAX,
		     &s->validation_partial_lob_size))
		goto done;
	n = s->thread_count;
	if (!get_int(path, vs, "ValidationSettings", "ThreadCount", 1, 64, &n))
		goto done;
	s->thread_count = (int)n;
	if (s->validation_only && s->prep_mode != PREP_DO_NOTHING) {
		log_error("%s: ValidationSettings.ValidationOnly needs FullLoadSettings.TargetTablePrepMode "
			  "DO_NOTHING (a validation-only task must not touch the target's tables)", path);
		goto done;
	}
	if (s->full_lob_mode && s->limited_lob_mode)
		log_warn("%s: TargetMetadata: FullLobMode and LimitedSizeLobMode are both true; using full LOB mode",
			 path);

	json_object_foreach(root, section, sec) {
		const char *key;

		if (!json_is_object(sec)) {
			if (!is_empty(sec))
				sb_addf(&ignored, "%s%s", ignored.len ? ", " : "", section);
			continue;
		}
		json_object_foreach(sec, key, v) {
			if (is_known(section, key) || is_empty(v))
				continue;
			sb_addf(&ignored, "%s%s.%s", ignored.len ? ", " : "", section, key);
		}
	}
	if (ignored.len)
		log_warn("%s: settings not implemented yet, ignored: %s", path, ignored.buf);
	ok = true;
done:
	sb_release(&ignored);
	json_decref(root);
	if (!ok)
		settings_free(s);
	return ok;
}
