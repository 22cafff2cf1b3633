/*
 * settings.h: AWS DMS task settings (ReplicationTaskSettings JSON) that dms
 * acts on, with DMS's defaults. settings_load() names, once, in one line, the
 * settings the document gives that dms does not implement yet.
 */
#ifndef DMS_SETTINGS_H
#define DMS_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

enum prep_mode { PREP_DROP_AND_CREATE, PREP_TRUNCATE_BEFORE_LOAD, PREP_DO_NOTHING };
enum error_policy {
	POLICY_LOG_ERROR, POLICY_IGNORE_RECORD, POLICY_SUSPEND_TABLE, POLICY_STOP_TASK,
	POLICY_INSERT_RECORD,	/* ApplyErrorInsertPolicy: the INSERT becomes an upsert */
	POLICY_UPDATE_RECORD,	/* ApplyErrorUpdatePolicy: a missing row is inserted */
};

struct task_settings {
	bool from_file;		/* a document was read (else the defaults) */
	char *target_schema;	/* TargetMetadata.TargetSchema; NULL when "" */
	char *control_schema;	/* ControlTablesSettings.ControlSchema / TargetMetadata; "dms" */
	bool support_lobs;	/* TargetMetadata.SupportLobs: true */
	bool full_lob_mode;	/* TargetMetadata.FullLobMode: false */
	bool limited_lob_mode;	/* TargetMetadata.LimitedSizeLobMode: true */
	int64_t lob_max_size_kb;	/* TargetMetadata.LobMaxSize: 32 */
	enum prep_mode prep_mode;	/* FullLoadSettings.TargetTablePrepMode: DROP_AND_CREATE */
	bool create_pk_after_full_load;	/* FullLoadSettings.CreatePkAfterFullLoad: false */
	bool stop_cached_not_applied;	/* FullLoadSettings.StopTaskCachedChangesNotApplied: false */
	bool stop_cached_applied;	/* FullLoadSettings.StopTaskCachedChangesApplied: false */
	int max_full_load_subtasks;	/* FullLoadSettings.MaxFullLoadSubTasks: 8 */
	int commit_rate;	/* FullLoadSettings.CommitRate: 10000 */
	enum error_policy data_error_policy;	/* ErrorBehavior.DataErrorPolicy: LOG_ERROR */
	enum error_policy data_truncation_policy;	/* ErrorBehavior.DataTruncationErrorPolicy: LOG_ERROR */
	/* change apply (ErrorBehavior) */
	enum error_policy apply_insert_policy;	/* ApplyErrorInsertPolicy: LOG_ERROR */
	enum error_policy apply_update_policy;	/* ApplyErrorUpdatePolicy: LOG_ERROR */
	enum error_policy apply_delete_policy;	/* ApplyErrorDeletePolicy: IGNORE_RECORD */
	enum error_policy apply_escalation_policy;	/* ApplyErrorEscalationPolicy: LOG_ERROR */
	int64_t apply_escalation_count;	/* ApplyErrorEscalationCount: 0, no limit */
	bool apply_fail_on_truncation;	/* ApplyErrorFailOnTruncationDdl: false */
	/* ChangeProcessingDdlHandlingPolicy */
	bool handle_dropped, handle_truncated, handle_altered;	/* all true */
	/* ChangeProcessingTuning (transactional apply) */
	int64_t min_transaction_size;	/* MinTransactionSize: 1000 changes per target transaction */
	int64_t commit_timeout;		/* CommitTimeout: 1 s */
	/* batch apply */
	bool batch_apply;		/* TargetMetadata.BatchApplyEnabled: false */
	int64_t batch_timeout_min;	/* ChangeProcessingTuning.BatchApplyTimeoutMin: 1 s */
	int64_t batch_timeout_max;	/* BatchApplyTimeoutMax: 30 s */
	int64_t batch_memory_mb;	/* BatchApplyMemoryLimit: 500 MB */
	int64_t batch_split_size;	/* BatchSplitSize: 0, no limit */
	/* ValidationSettings */
	bool enable_validation;		/* EnableValidation: false */
	bool validation_only;		/* ValidationOnly: false */
	int thread_count;		/* ThreadCount: 5 */
	int64_t partition_size;		/* PartitionSize: 10000 */
	int64_t failure_max_count;	/* FailureMaxCount: 10000 */
	int64_t table_failure_max_count;	/* TableFailureMaxCount: 1000 */
	bool handle_collation_diff;	/* HandleCollationDiff: false */
	bool skip_lob_columns;		/* SkipLobColumns: false */
	int64_t validation_partial_lob_size;	/* ValidationPartialLobSize (KB): 0, whole LOBs */
};

void settings_defaults(struct task_settings *s);
/* False (logged, naming the key) for a malformed document or value; *s is then released. */
bool settings_load(const char *path, struct task_settings *s);
void settings_free(struct task_settings *s);

const char *prep_mode_name(enum prep_mode m);
bool prep_mode_parse(const char *s, enum prep_mode *m);
const char *error_policy_name(enum error_policy p);

#endif
