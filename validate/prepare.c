/*
 * validate/prepare.c: preparing a table: what to compare with what, canonical forms, the SQL (see compare.h).
 */
#include "compare.h"

/* ---- preparing a table: what to compare with what ---- */


char *
src_ident_cb(void *arg, const char *text)
{
	return ((struct prep *)arg)->ops[S]->quote_ident(text);
}

char *
src_literal_cb(void *arg, const char *text)
{
	struct prep *p = arg;

	return p->ops[S]->quote_literal(&p->src[S], text);
}

/* What the mapping makes of a described source table: rules_shape of its model. */
int
mapped_shape(struct rules *r, const struct src_table *t, struct rules_shape *out)
{
	struct dms_table *model = src_table_model(t);
	int status = EXIT_USAGE;

	memset(out, 0, sizeof(*out));
	if (model != NULL)
		status = rules_shape(r, model, out);
	table_free(model);
	return status;
}

const struct mapping_rule *
validation_rule(const struct mapping *m, const char *schema, const char *table, const char *column,
		const char *type)
{
	if (m == NULL)
		return NULL;
	for (int i = 0; i < m->nrules; i++) {
		const struct mapping_rule *r = &m->rules[i];

		if (r->type == RULE_VALIDATION && wildcard_match(r->schema, schema) &&
		    wildcard_match(r->table, table) && wildcard_match(r->column, column) &&
		    (r->locator_type == NULL || strcmp(r->locator_type, type) == 0))
			return r;
	}
	return NULL;
}

/* fn with ${column-name} replaced by the quoted column, as text. */
void
override_expr(struct strbuf *sb, enum dms_engine e, const char *fn, const char *q)
{
	struct strbuf x = STRBUF_INIT;

	for (const char *p = fn; *p;) {
		if (strncmp(p, "${column-name}", 14) == 0) {
			sb_adds(&x, q);
			p += 14;
		} else
			sb_add(&x, p++, 1);
	}
	sb_addf(sb, e == ENGINE_PG ? "(%s)::text" : "CONVERT(CAST((%s) AS CHAR) USING utf8mb4)", x.buf);
	sb_release(&x);
}

/* MySQL: the names of a table's text columns whose character set is UTF-8 already. */
bool
utf8_columns(struct my_conn *c, const char *schema, const char *table, struct vrows *out)
{
	struct strbuf sql = STRBUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;

	memset(out, 0, sizeof(*out));
	sb_adds(&sql, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE CHARACTER_SET_NAME IN "
		      "('utf8mb4', 'utf8mb3', 'utf8', 'ascii') AND TABLE_SCHEMA = ");
	vliteral(&sql, schema);
	sb_adds(&sql, " AND TABLE_NAME = ");
	vliteral(&sql, table);
	res = my_query(c, sql.buf);
	sb_release(&sql);
	if (res == NULL)
		return false;
	out->ncols = 1;
	out->off = xcalloc(mysql_num_rows(res) + 1, sizeof(size_t));
	out->len = xcalloc(mysql_num_rows(res) + 1, sizeof(size_t));
	while ((row = mysql_fetch_row(res)) != NULL) {
		out->off[out->nrows] = out->data.len;
		out->len[out->nrows] = strlen(row[0]);
		sb_add(&out->data, row[0], strlen(row[0]) + 1);
		out->nrows++;
	}
	mysql_free_result(res);
	return true;
}

bool
utf8_column(const struct vrows *r, const char *name)
{
	for (int i = 0; i < r->nrows; i++)
		if (strcmp(vcell(r, i, 0, NULL), name) == 0)
			return true;
	return false;
}

bool
fixed_char(const char *native)
{
	return native != NULL && (strncmp(native, "character(", 10) == 0 || strncmp(native, "char(", 5) == 0 ||
				  strcmp(native, "bpchar") == 0 || strcmp(native, "character") == 0);
}

int
target_column(const struct src_table *tt, const char *name)
{
	int i = src_column_index(tt, name);

	for (uint32_t c = 0; i < 0 && c < tt->d.ncols; c++)
		if (strcasecmp(tt->d.cols[c].name, name) == 0)
			i = (int)c;
	return i;
}

/*
 * The row text of one side: the columns' canonical texts, non-text classes
 * first, joined by commas; text parts are prefixed with their length in bytes,
 * except the last, which runs to the end (':' and the text; nothing for NULL).
 *
 * PostgreSQL joins short runs of parts with || (concat() looks up each
 * argument's output function on every row) and the runs with concat(), which
 * takes at most 100 arguments and copies each part once however wide the row.
 */

void
row_part(struct strbuf *sb, const struct vcol *c, int side, bool pg, bool prefixed)
{
	const char *x = c->canon[side];
	bool null = c->nullable[side];

	if (!vclass_is_text(c->cls)) {
		if (pg)
			sb_addf(sb, null ? "coalesce(%s, '')" : "%s", x);
		else
			sb_addf(sb, null ? "COALESCE(%s, '')" : "%s", c->rowpart[side] ? c->rowpart[side] : x);
	} else if (!prefixed) {
		if (pg)
			sb_addf(sb, null ? "coalesce(':' || %s, '')" : "':' || %s", x);
		else
			sb_addf(sb, null ? "COALESCE(CONCAT(':', %s), '')" : "CONCAT(':', %s)", x);
	} else if (pg) {
		sb_addf(sb, null ? "coalesce(octet_length(%s)::text || ':' || %s, ':')" : "octet_length(%s)::text || ':' || %s",
			x, x);
	} else {
		sb_addf(sb, null ? "COALESCE(CONCAT(LENGTH(%s), ':', %s), ':')" : "LENGTH(%s), ':', %s", x, x);
	}
}

/* PostgreSQL: concat() of up to 50 texts at a time, nested as needed. */
char *
pg_concat(char **parts, int n)
{
	while (n > 1) {
		int m = 0;

		for (int i = 0; i < n; i += 50, m++) {
			struct strbuf sb = STRBUF_INIT;

			sb_adds(&sb, "concat(");
			for (int j = i; j < n && j < i + 50; j++) {
				sb_addf(&sb, "%s%s", j > i ? ", ',', " : "", parts[j]);
				free(parts[j]);
			}
			sb_adds(&sb, ")");
			parts[m] = sb.buf;
		}
		n = m;
	}
	return n == 1 ? parts[0] : xstrdup("''");
}

char *
row_text(const struct vtable *t, int side, enum dms_engine e, bool prefix_all)
{
	struct strbuf sb = STRBUF_INIT;
	char **runs = xcalloc((size_t)t->ncols + 1, sizeof(*runs)), *row;
	int last = -1, n = 0, nruns = 0;
	bool pg = e == ENGINE_PG;

	for (int i = 0; i < t->ncols && !prefix_all; i++)
		if (vclass_is_text(t->cols[i].cls))
			last = i;
	if (!pg)
		sb_adds(&sb, "CONCAT(");
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < t->ncols; i++) {
			const struct vcol *c = &t->cols[i];

			if (vclass_is_text(c->cls) != (pass == 1))
				continue;
			if (pg && n > 0 && n % PG_RUN == 0) {
				runs[nruns++] = sb.buf;	/* a new run; concat() adds the comma */
				sb_init(&sb);
			} else if (n > 0) {
				sb_adds(&sb, pg ? " || ',' || " : ", ',', ");
			}
			if (pg)
				sb_adds(&sb, "(");
			row_part(&sb, c, side, pg, i != last);
			if (pg)
				sb_adds(&sb, ")");
			n++;
		}
	if (!pg) {
		sb_adds(&sb, n ? ")" : "'')");
		free(runs);
		return sb.buf;
	}
	if (n > 0)
		runs[nruns++] = sb.buf;
	else
		sb_release(&sb);
	row = pg_concat(runs, nruns);
	free(runs);
	return row;
}

void
build_sql(struct vtable *t, enum dms_engine e[2])
{
	for (int side = S; side <= T; side++) {
		struct strbuf sb = STRBUF_INIT;
		char *row;
		bool pg = e[side] == ENGINE_PG;

		if (t->native) {
			/* both PostgreSQL, same types: the row's own text is canonical */
			sb_adds(&sb, "ROW(");
			for (int c = 0; c < t->ncols; c++)
				sb_addf(&sb, "%s%s", c ? ", " : "", t->cols[c].q[side]);
			sb_adds(&sb, ")::text");
			row = sb.buf;
			sb_init(&sb);
			sb_addf(&sb, "count(*), coalesce(sum(hashtextextended(%s, 0)), 0)", row);
		} else if (t->ordered) {
			/* keys both engines order alike: one MD5 of the rows' texts in key order */
			row = row_text(t, side, e[side], true);
			/*
			 * A range of the key is read along the key's index, in key order
			 * (PostgreSQL sessions turn sequential and bitmap scans off); were it
			 * not, the checksums would differ and the partition be narrowed.
			 */
			if (pg)
				/* the same aggregate twice is computed once; its length sizes vwarm() */
				sb_addf(&sb, "count(*), coalesce(md5(string_agg(%s, ';')), ''), "
					     "octet_length(string_agg(%s, ';'))", row, row);
			else
				sb_addf(&sb, "COUNT(*), COALESCE(MD5(GROUP_CONCAT(%s SEPARATOR ';')), '')", row);
		} else {
			row = row_text(t, side, e[side], false);
			sb_addf(&sb, pg ? "count(*), coalesce(sum(('x' || left(md5(%s), 15))::bit(60)::bigint), 0)"
					: "COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5(%s), 15), 16, 10) AS UNSIGNED)), 0)",
				row);
		}
		t->sum[side] = sb.buf;
		sb_init(&sb);
		sb_addf(&sb, pg ? "md5(%s) AS h" : "MD5(%s) AS h", row);
		t->hash[side] = sb.buf;
		free(row);
		sb_init(&sb);
		/* aliased: ORDER BY a name would find a select-list column of that name first */
		for (int k = 0; k < t->nkey; k++)
			sb_addf(&sb, "%s%s AS k%d", k ? ", " : "", t->cols[t->key[k]].keytext[side], k);
		t->keysel[side] = sb.buf;
		sb_init(&sb);
		for (int k = 0; k < t->nkey; k++)
			sb_addf(&sb, "%s%s", k ? ", " : "", t->cols[t->key[k]].term[side]);
		t->orderby[side] = sb.buf;
		sb_init(&sb);
		for (int c = 0; c < t->ncols; c++)
			sb_addf(&sb, "%s%s AS c%d, %s AS d%d", c ? ", " : "", t->cols[c].canon[side], c,
				t->cols[c].disp[side], c);
		if (t->ncols == 0)
			sb_adds(&sb, "NULL, NULL");
		t->rowsel[side] = sb.buf;
	}
}


void
table_error(struct vtable *t, const char *state, const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	t->ready = false;
	t->state = state;
	free(t->details);
	t->details = xstrdup(buf);
}

/* PostgreSQL: the oid of schema.name on the target; MySQL needs none. */
bool
find_target(struct prep *p, struct vtable *t, struct src_name *nm, bool *found)
{
	struct vconn *c = &p->run->ctl;
	struct strbuf sql = STRBUF_INIT;
	struct vrows r;
	bool ok;

	memset(nm, 0, sizeof(*nm));
	nm->schema = t->tschema;
	nm->name = t->tname;
	if (c->engine == ENGINE_PG) {
		sb_adds(&sql, "SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			      "WHERE c.relkind IN ('r', 'p') AND n.nspname = ");
		vliteral(&sql, t->tschema);
		sb_adds(&sql, " AND c.relname = ");
		vliteral(&sql, t->tname);
	} else {
		sb_adds(&sql, "SELECT 0 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
		vliteral(&sql, t->tschema);
		sb_adds(&sql, " AND TABLE_NAME = ");
		vliteral(&sql, t->tname);
	}
	ok = vquery(c, sql.buf, &r);
	sb_release(&sql);
	if (!ok)
		return false;
	*found = r.nrows > 0;
	if (*found)
		nm->oid = strtoll(vcell(&r, 0, 0, NULL), NULL, 10);
	vrows_free(&r);
	return true;
}

/* false: an error that ends the run (status set); a table that cannot be validated only says so in its state. */
/*
 * Column sc of the mapped shape: its canonical forms and expressions on
 * both sides, as t's next column. Returns its index in t, -1 when it is not
 * compared, -2 when the target lacks it (a table error, set).
 */
static int
add_column(struct prep *p, struct vtable *t, const struct src_table *st, const struct src_table *tt,
	   const struct shape_column *sc, struct vrows utf8[2], bool *lob, bool *native)
{
	struct vrun *run = p->run;
	const struct vopts *o = run->o;
	enum dms_engine e[2] = { run->eng[S], run->eng[T] };
	const struct dms_column *s, *d;
	struct vcol *c;
	const struct mapping_rule *vr;
	int ti;
	char *qs, *qt;
	struct strbuf x = STRBUF_INIT;
	int64_t partial = o->settings->validation_partial_lob_size * 1024;

	if (sc->src < 0) {
		log_info("%s: column %s is not compared: %s", t->label, sc->name, sc->why);
		return -1;
	}
	s = &st->d.cols[sc->src];
	if (o->settings->skip_lob_columns && dms_type_is_lob(s->type)) {
		log_info("%s: LOB column %s is not compared (SkipLobColumns)", t->label, sc->name);
		return -1;
	}
	ti = target_column(tt, sc->name);
	if (ti < 0) {
		table_error(t, "Table error", "the target table %s.%s has no column %s", t->tschema,
			    t->tname, sc->name);
		t->missing = true;
		return -2;
	}
	d = &tt->d.cols[ti];
	c = &t->cols[t->ncols++];
	c->name = xstrdup(sc->name);
	c->cls = vclass_of(s->type);
	qs = p->ops[S]->quote_ident(s->name);
	qt = p->ops[T]->quote_ident(d->name);
	vr = validation_rule(o->mapping, st->d.schema, st->d.name, s->name, dms_type_name(s->type));
	if (vr && vr->source_fn)
		override_expr(&x, e[S], vr->source_fn, qs);
	else
		canon_expr(&x, e[S], c->cls, s->type, s->native, qs, partial,
			   utf8_column(&utf8[S], s->name));
	c->canon[S] = x.buf;
	sb_init(&x);
	if (vr && vr->target_fn)
		override_expr(&x, e[T], vr->target_fn, qt);
	else
		canon_expr(&x, e[T], c->cls, d->type, d->native, qt, partial,
			   utf8_column(&utf8[T], d->name));
	c->canon[T] = x.buf;
	if (!vr && c->cls == VC_TEXT && fixed_char(s->native)) {
		/* char(n): trailing spaces are padding, whichever side keeps them */
		for (int side = S; side <= T; side++) {
			char *inner = c->canon[side];

			if (fixed_char(side == S ? s->native : d->native))
				continue;	/* the engine strips the padding itself */

			c->canon[side] = xprintf(e[side] == ENGINE_PG ? "rtrim(%s, ' ')"
								      : "TRIM(TRAILING ' ' FROM %s)", inner);
			free(inner);
		}
	}
	if (vr) {
		c->cls = VC_OTHER;
		log_info("%s: column %s compared with rule %s's functions", t->label, sc->name,
			 vr->id_text);
	}
	*lob |= dms_type_is_lob(s->type) || dms_type_is_lob(d->type);
	c->nullable[S] = s->nullable;
	c->nullable[T] = d->nullable;
	if (vr || partial > 0 || s->native == NULL || d->native == NULL ||
	    strcmp(s->native, d->native) != 0)
		*native = false;
	for (int side = S; side <= T; side++) {
		const char *q = side == S ? qs : qt;
		enum dms_type ty = side == S ? s->type : d->type;
		const char *nat = side == S ? s->native : d->native;

		c->q[side] = xstrdup(q);
		/* MySQL integers: CONCAT() prints them as the canonical text does */
		if (!vr && e[side] == ENGINE_MYSQL && c->cls == VC_NUM && nat &&
		    strncmp(nat, "decimal", 7) != 0 && strncmp(nat, "bit", 3) != 0)
			c->rowpart[side] = xstrdup(q);

		sb_init(&x);
		if (c->cls == VC_DATETIME || c->cls == VC_TIME)
			key_expr(&x, e[side], c->cls, ty, q, false);
		else
			sb_adds(&x, c->canon[side]);
		c->disp[side] = x.buf;
		sb_init(&x);
		key_expr(&x, e[side], c->cls, ty, q, false);
		c->keytext[side] = x.buf;
		sb_init(&x);
		if (c->cls == VC_TEXT && o->settings->handle_collation_diff)
			key_expr(&x, e[side], c->cls, ty, q, true);
		else
			sb_adds(&x, q);
		c->term[side] = x.buf;
	}
	free(qs);
	free(qt);
	return t->ncols - 1;
}

bool
prepare_table(struct prep *p, const struct src_name *nm, struct vtable *t)
{
	struct vrun *run = p->run;
	const struct vopts *o = run->o;
	struct src_table st = { 0 }, tt = { 0 };
	struct rules_shape shape = { 0 };
	struct src_name tn;
	bool found, ok = true, native = true, lob = false;
	struct vrows utf8[2] = { 0 };
	enum dms_engine e[2] = { run->eng[S], run->eng[T] };

	t->owner = xstrdup(nm->schema);
	t->name = xstrdup(nm->name);
	t->state = "Pending validation";
	if (!p->ops[S]->describe(&p->src[S], nm, &st)) {
		run->status = EXIT_SOURCE;
		return false;
	}
	/* no primary key: the first unique index of NOT NULL columns, as DMS does */
	src_table_key_fallback(&st);
	if (p->rules) {
		if (mapped_shape(p->rules, &st, &shape) != EXIT_OK) {
			run->status = EXIT_USAGE;
			src_table_free(&st);
			return false;
		}
	} else {
		shape.schema = xstrdup(st.d.schema);
		shape.name = xstrdup(st.d.name);
		shape.ncols = (int)st.d.ncols;
		shape.cols = xcalloc((size_t)st.d.ncols + 1, sizeof(*shape.cols));
		for (int i = 0; i < shape.ncols; i++) {
			shape.cols[i].name = xstrdup(st.d.cols[i].name);
			shape.cols[i].src = i;
		}
		shape.nkey = (int)st.d.nkey;
		shape.key = xcalloc((size_t)st.d.nkey + 1, sizeof(int));
		for (int k = 0; k < shape.nkey; k++)
			shape.key[k] = (int)st.d.key[k];
	}
	if (o->settings->target_schema)
		t->tschema = xstrdup(o->settings->target_schema);
	else if (e[T] == ENGINE_MYSQL)
		t->tschema = xstrdup(run->ctl.my.dbname);
	else
		t->tschema = xstrdup(shape.schema);
	t->tname = xstrdup(shape.name);
	t->label = xprintf("%s.%s", t->owner, t->name);
	if (strcmp(t->owner, t->tschema) != 0 || strcmp(t->name, t->tname) != 0) {
		char *l = t->label;

		t->label = xprintf("%s (target %s.%s)", l, t->tschema, t->tname);
		free(l);
	}
	/* no key: the table is compared whole (count, an order-free hash, the rows when few) */
	t->keyless = shape.nkey == 0;
	if (!find_target(p, t, &tn, &found)) {
		run->status = EXIT_TARGET;
		ok = false;
		goto done;
	}
	if (!found) {
		table_error(t, "Table error", "the target has no table %s.%s", t->tschema, t->tname);
		t->missing = true;
		goto done;
	}
	if (!p->ops[T]->describe(&p->src[T], &tn, &tt)) {
		run->status = EXIT_TARGET;
		ok = false;
		goto done;
	}
	t->filter = mapping_filter_sql(o->mapping, st.d.schema, st.d.name, src_ident_cb, src_literal_cb, p);
	t->from[S] = src_table_qualified(&st, p->ops[S]->quote_ident);
	t->from[T] = qualified(&run->ctl, t->tschema, t->tname);
	t->cols = xcalloc((size_t)shape.ncols + 1, sizeof(*t->cols));
	t->key = xcalloc((size_t)shape.nkey + 1, sizeof(int));
	if ((e[S] == ENGINE_MYSQL && !utf8_columns(p->src[S].conn, st.d.schema, st.d.name, &utf8[S])) ||
	    (e[T] == ENGINE_MYSQL && !utf8_columns(p->src[T].conn, t->tschema, t->tname, &utf8[T]))) {
		run->status = e[S] == ENGINE_MYSQL && utf8[S].off == NULL ? EXIT_SOURCE : EXIT_TARGET;
		ok = false;
		goto done;
	}
	{
		int *map = xcalloc((size_t)shape.ncols + 1, sizeof(int));

		for (int i = 0; i < shape.ncols; i++) {
			map[i] = add_column(p, t, &st, &tt, &shape.cols[i], utf8, &lob, &native);
			if (map[i] == -2) {
				free(map);
				goto done;
			}
		}
		for (int k = 0; k < shape.nkey; k++) {
			int c = map[shape.key[k]];

			if (c < 0) {
				table_error(t, "Table error", "key column %s is not compared", shape.cols[shape.key[k]].name);
				free(map);
				goto done;
			}
			if (!vclass_keyable(t->cols[c].cls)) {
				table_error(t, "Table error", "key column %s: its type cannot be a validation key",
					    t->cols[c].name);
				free(map);
				goto done;
			}
			t->key[t->nkey++] = c;
		}
		free(map);
	}
	t->native = native && e[S] == ENGINE_PG && e[T] == ENGINE_PG;
	t->ordered = !lob && !o->settings->handle_collation_diff && !t->keyless;
	for (int k = 0; k < t->nkey; k++) {
		enum vclass kc = t->cols[t->key[k]].cls;

		if (kc != VC_NUM && kc != VC_DATE && kc != VC_DATETIME && kc != VC_TIME)
			t->ordered = false;
	}
	build_sql(t, e);
	log_debug("%s: source checksum: SELECT %s FROM %s", t->label, t->sum[S], t->from[S]);
	log_debug("%s: target checksum: SELECT %s FROM %s", t->label, t->sum[T], t->from[T]);
	t->ready = true;
done:
	vrows_free(&utf8[S]);
	vrows_free(&utf8[T]);
	src_table_free(&st);
	src_table_free(&tt);
	rules_shape_free(&shape);
	return ok;
}
