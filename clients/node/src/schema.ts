/*
 * The message types and field tables of docs/protocol.md §4–§5 as data: every field of every
 * message in canonical order, with its type, presence and range. The encoder and the decoder
 * both walk these tables, so a rule is written once and enforced in both directions.
 */

/** Protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

/** Frame limits (§1, §7). */
export const FRAME_HEADER = 4;
export const MAX_FRAME_PREHELLO = 4096;
export const MAX_FRAME_DEFAULT = 1024 * 1024;
export const MAX_FRAME_MIN = 4096;
export const MAX_FRAME_HARD = 64 * 1024 * 1024;
export const MAX_DEPTH = 8;
export const MAX_VALUES = 65536;

/** Field limits (§5, §7). */
export const MAX_NAME = 255;
export const MAX_KEY = 255;
export const MAX_STEP = 0x7fffffff;
/** Keys the daemon derives for steps ("step:<parent>:<step>"); clients may not use the prefix. */
export const STEP_KEY_PREFIX = 'step:';
export const MAX_CLIENT = 128;
export const MAX_STORAGE = 4096;
export const MAX_ERROR = 65536;
export const MAX_REGISTER = 256;
export const MAX_LIST = 1000;
export const MAX_ATTEMPTS_LIMIT = 1000;
export const MAX_DELAY_LIMIT_MS = 30 * 24 * 3600 * 1000;
export const MAX_TIMEOUT_MS = 24 * 3600 * 1000;
export const MAX_CONCURRENCY = 10000;
export const MAX_SCHEDULE_NAME = 200;
export const MAX_CRON = 255;
export const MAX_ZONE = 127;
export const MAX_STATS_FUNCTIONS = 1001;
export const MAX_STATS_QUEUES = 1000;
export const MAX_STATS_NODES = 1000;
export const MAX_SCHEMA = 63;

/** Message type numbers (§4). */
export const MsgType = {
  HELLO: 0x01,
  WELCOME: 0x02,
  ERROR: 0x03,
  PING: 0x04,
  PONG: 0x05,
  OK: 0x06,
  ENQUEUE: 0x10,
  ENQUEUED: 0x11,
  REGISTER: 0x12,
  DISPATCH: 0x13,
  ACK: 0x14,
  ABANDON: 0x15,
  AWAIT: 0x16,
  COMPLETED: 0x17,
  GET: 0x18,
  JOB: 0x19,
  CANCEL: 0x1a,
  RETRY: 0x1b,
  LIST: 0x1c,
  JOBS: 0x1d,
  STATS: 0x1e,
  STATISTICS: 0x1f,
  SCHEDULE_PUT: 0x20,
  SCHEDULE: 0x21,
  SCHEDULE_GET: 0x22,
  SCHEDULE_PAUSE: 0x23,
  SCHEDULE_RESUME: 0x24,
  SCHEDULE_DELETE: 0x25,
  SCHEDULE_LIST: 0x26,
  SCHEDULES: 0x27,
} as const;

export type MsgTypeName = keyof typeof MsgType;
export type MsgTypeNumber = (typeof MsgType)[MsgTypeName];

/** The name of a type number, or undefined when the protocol does not know it. */
export const MSG_TYPE_NAMES: ReadonlyMap<number, MsgTypeName> = new Map(
  (Object.keys(MsgType) as MsgTypeName[]).map((k) => [MsgType[k], k]),
);

export const JOB_STATUSES = ['pending', 'running', 'success', 'dead', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const BACKOFFS = ['fixed', 'linear', 'exponential'] as const;
export type Backoff = (typeof BACKOFFS)[number];
export const ABANDON_REASONS = ['timeout', 'cancelled', 'shutdown'] as const;
export type AbandonReason = (typeof ABANDON_REASONS)[number];
export const FINAL_STATUSES = ['success', 'dead', 'cancelled'] as const;
export type FinalStatus = (typeof FINAL_STATUSES)[number];

/**
 * An integer from the wire: a `number` when it is a safe integer, else a `bigint`. Encoders
 * take either.
 */
export type Int = number | bigint;

/** How a field is carried on the wire. */
export type FieldKind =
  | 'uint'
  | 'int'
  | 'float' // float 64 on the wire; the only one is jitter, in [0, 1]
  | 'bool'
  | 'str'
  | 'bin'
  | 'enum'
  | 'names' // array of function names (REGISTER)
  | 'jobs'; // array of maps, each following the row's sub table (JOBS.jobs, SCHEDULES.schedules)

/** One row of a §5 table. */
export interface Field {
  readonly key: string;
  readonly kind: FieldKind;
  readonly required: boolean;
  /** uint/int: value range; str: byte length range; names/jobs: entry count range. */
  readonly min: bigint;
  readonly max: bigint;
  /** enum: the wire names this field accepts. */
  readonly values?: ReadonlySet<string>;
  /** jobs: the table of each entry (a JOB, a SCHEDULE). */
  readonly sub?: Table;
}

/** The fields of one message type (or of a job inside JOBS). */
export interface Table {
  readonly name: string;
  readonly fields: readonly Field[];
  /** key → index into fields. */
  readonly index: ReadonlyMap<string, number>;
  /** A rule across fields: the reason it is broken, or undefined. */
  readonly check?: (fields: Record<string, unknown>) => string | undefined;
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const ANY_LEN = 0xffffffffn;

function row(key: string, kind: FieldKind, required: boolean, min: Int, max: Int, extra?: Partial<Field>): Field {
  return { key, kind, required, min: BigInt(min), max: BigInt(max), ...extra };
}
const uintReq = (k: string, lo: Int = 0, hi: Int = U64_MAX) => row(k, 'uint', true, lo, hi);
const uintOpt = (k: string, lo: Int = 0, hi: Int = U64_MAX) => row(k, 'uint', false, lo, hi);
const intReq = (k: string) => row(k, 'int', true, I64_MIN, I64_MAX);
const intOpt = (k: string, lo: Int = I64_MIN, hi: Int = I64_MAX) => row(k, 'int', false, lo, hi);
const strReq = (k: string, lo: Int, hi: Int) => row(k, 'str', true, lo, hi);
const strOpt = (k: string, lo: Int, hi: Int) => row(k, 'str', false, lo, hi);
const binReq = (k: string) => row(k, 'bin', true, 0, ANY_LEN);
const binOpt = (k: string) => row(k, 'bin', false, 0, ANY_LEN);
const boolReq = (k: string) => row(k, 'bool', true, 0, 0);
const boolOpt = (k: string) => row(k, 'bool', false, 0, 0);
const enumRow = (k: string, required: boolean, values: readonly string[]) =>
  row(k, 'enum', required, 0, 0, { values: new Set(values) });

function table(name: string, fields: Field[], check?: Table['check']): Table {
  return { name, fields, index: new Map(fields.map((f, i) => [f.key, i])), check };
}

/** The rule each function name of a REGISTER is held to. */
export const NAME_RULE: Field = strReq('names', 1, MAX_NAME);

const JOB_ROWS: Field[] = [
  uintReq('id'),
  strReq('name', 1, MAX_NAME),
  enumRow('status', true, JOB_STATUSES),
  uintReq('attempt'),
  uintReq('max_attempts'),
  binReq('args'),
  binOpt('result'),
  strOpt('error', 0, MAX_ERROR),
  strOpt('key', 1, MAX_KEY),
  intReq('priority'),
  intReq('created_at'),
  intReq('run_at'),
  intOpt('started_at'),
  intOpt('finished_at'),
  uintOpt('parent', 1, I64_MAX),
  uintOpt('step', 0, MAX_STEP),
];

const JOB_IN_JOBS = table('JOBS.jobs[]', JOB_ROWS);
const JOB_REF = [uintReq('job')];

/** The job options of ENQUEUE, as SCHEDULE_PUT (optional) and SCHEDULE (required) carry them. */
function jobOptionRows(required: boolean): Field[] {
  const u = (k: string, lo: Int, hi: Int) => row(k, 'uint', required, lo, hi);
  return [
    u('max_attempts', 1, MAX_ATTEMPTS_LIMIT),
    enumRow('backoff', required, BACKOFFS),
    u('initial_delay_ms', 0, MAX_DELAY_LIMIT_MS),
    u('max_delay_ms', 0, MAX_DELAY_LIMIT_MS),
    row('jitter', 'float', required, 0, 1),
    u('timeout_ms', 1, MAX_TIMEOUT_MS),
    row('priority', 'int', required, -32768, 32767),
  ];
}

const SCHEDULE_ROWS: Field[] = [
  strReq('name', 1, MAX_SCHEDULE_NAME),
  strReq('function', 1, MAX_NAME),
  strReq('cron', 1, MAX_CRON),
  strReq('zone', 1, MAX_ZONE),
  binReq('args'),
  ...jobOptionRows(true),
  boolReq('paused'),
  intOpt('next_run_at'),
  intOpt('last_run_at'),
  intReq('created_at'),
];
const SCHEDULE_IN_SCHEDULES = table('SCHEDULES.schedules[]', SCHEDULE_ROWS);
const SCHEDULE_REF = [strReq('name', 1, MAX_SCHEDULE_NAME)];

const STATS_FUNCTION = table('STATISTICS.functions[]', [
  strReq('name', 1, MAX_NAME),
  ...['enqueued', 'deduplicated', 'started', 'succeeded', 'failed', 'dead', 'timed_out', 'reclaimed', 'duration_count', 'duration_sum_us'].map(
    (k) => uintReq(k),
  ),
]);
const STATS_QUEUE = table('STATISTICS.queues[]', [strReq('name', 1, MAX_NAME), uintReq('pending'), uintReq('running')]);
const STATS_NODE = table('STATISTICS.nodes[]', [
  strReq('id', 1, 64),
  strReq('host', 0, 255),
  uintReq('pid'),
  intReq('heartbeat_age_ms'),
  intReq('started_at'),
]);

/** The table of each message type, by type number. */
export const TABLES: ReadonlyMap<number, Table> = new Map<number, Table>([
  [MsgType.HELLO, table('HELLO', [uintReq('version'), strReq('client', 1, MAX_CLIENT), uintOpt('pid'), strOpt('storage', 0, MAX_STORAGE)])],
  [
    MsgType.WELCOME,
    table('WELCOME', [
      uintReq('version'),
      strReq('node', 0, ANY_LEN),
      strReq('server', 0, ANY_LEN),
      uintReq('max_frame', MAX_FRAME_MIN, MAX_FRAME_HARD),
      strReq('storage', 0, MAX_STORAGE),
    ]),
  ],
  [MsgType.ERROR, table('ERROR', [strReq('code', 0, ANY_LEN), strReq('message', 0, ANY_LEN), boolOpt('retryable')])],
  [MsgType.PING, table('PING', [])],
  [MsgType.PONG, table('PONG', [])],
  [MsgType.OK, table('OK', [])],
  [
    MsgType.ENQUEUE,
    table(
      'ENQUEUE',
      [
        strReq('name', 1, MAX_NAME),
        binOpt('args'),
        strOpt('key', 1, MAX_KEY),
        uintOpt('max_attempts', 1, MAX_ATTEMPTS_LIMIT),
        enumRow('backoff', false, BACKOFFS),
        uintOpt('initial_delay_ms', 0, MAX_DELAY_LIMIT_MS),
        uintOpt('max_delay_ms', 0, MAX_DELAY_LIMIT_MS),
        row('jitter', 'float', false, 0, 1),
        uintOpt('timeout_ms', 1, MAX_TIMEOUT_MS),
        intOpt('priority', -32768, 32767),
        intOpt('run_at'),
        uintOpt('delay_ms', 0, MAX_DELAY_LIMIT_MS),
        uintOpt('parent', 1, I64_MAX),
        uintOpt('step', 0, MAX_STEP),
      ],
      (f) => {
        if (f.run_at != null && f.delay_ms != null) return 'run_at and delay_ms together';
        if ((f.parent != null) !== (f.step != null)) return 'parent and step go together';
        if (typeof f.key === 'string' && f.key.startsWith(STEP_KEY_PREFIX))
          return `key: the prefix "${STEP_KEY_PREFIX}" is reserved for steps`;
        return undefined;
      },
    ),
  ],
  [MsgType.ENQUEUED, table('ENQUEUED', [uintReq('job'), boolReq('deduplicated')])],
  [
    MsgType.REGISTER,
    table('REGISTER', [row('names', 'names', true, 1, MAX_REGISTER), uintReq('concurrency', 0, MAX_CONCURRENCY)]),
  ],
  [
    MsgType.DISPATCH,
    table('DISPATCH', [
      uintReq('job'),
      strReq('name', 1, MAX_NAME),
      binReq('args'),
      uintReq('attempt'),
      uintReq('max_attempts'),
      intReq('deadline'),
    ]),
  ],
  [
    MsgType.ACK,
    table(
      'ACK',
      [uintReq('job'), uintReq('attempt'), boolReq('ok'), binOpt('result'), strOpt('error', 0, MAX_ERROR), boolOpt('retryable'), boolOpt('release')],
      // a release hands the attempt back unfinished: no outcome may come with it
      (f) =>
        f.release === true && (f.ok !== false || f.result != null || f.error != null || f.retryable != null)
          ? 'release with ok true, result, error or retryable'
          : undefined,
    ),
  ],
  [MsgType.ABANDON, table('ABANDON', [uintReq('job'), uintReq('attempt'), enumRow('reason', true, ABANDON_REASONS)])],
  [
    MsgType.AWAIT,
    table('AWAIT', [uintReq('job'), uintOpt('timeout_ms'), uintOpt('waiter', 1, I64_MAX), uintOpt('waiter_attempt', 1, 0x7fffffff)], (f) =>
      (f.waiter != null) !== (f.waiter_attempt != null) ? 'waiter and waiter_attempt go together' : undefined,
    ),
  ],
  [
    MsgType.COMPLETED,
    table('COMPLETED', [
      uintReq('job'),
      enumRow('status', true, FINAL_STATUSES),
      uintReq('attempt'),
      binOpt('result'),
      strOpt('error', 0, MAX_ERROR),
    ]),
  ],
  [MsgType.GET, table('GET', JOB_REF)],
  [MsgType.JOB, table('JOB', JOB_ROWS)],
  [MsgType.CANCEL, table('CANCEL', JOB_REF)],
  [MsgType.RETRY, table('RETRY', JOB_REF)],
  [
    MsgType.LIST,
    table('LIST', [enumRow('status', false, JOB_STATUSES), strOpt('name', 1, MAX_NAME), uintOpt('limit', 1, MAX_LIST), uintOpt('after'), uintOpt('parent', 1, I64_MAX)]),
  ],
  [MsgType.JOBS, table('JOBS', [row('jobs', 'jobs', true, 0, MAX_LIST, { sub: JOB_IN_JOBS }), uintOpt('next')])],
  [MsgType.STATS, table('STATS', [])],
  [
    MsgType.STATISTICS,
    table('STATISTICS', [
      strReq('server', 0, ANY_LEN),
      strReq('node', 0, ANY_LEN),
      uintReq('pid'),
      intReq('started_at'),
      uintReq('uptime_ms'),
      uintReq('connections'),
      uintReq('workers'),
      uintReq('running'),
      strReq('storage', 0, MAX_STORAGE),
      strReq('schema', 1, MAX_SCHEMA),
      boolReq('storage_up'),
      intOpt('counted_at'),
      strOpt('count_error', 0, MAX_ERROR),
      boolOpt('truncated'),
      row('functions', 'jobs', true, 0, MAX_STATS_FUNCTIONS, { sub: STATS_FUNCTION }),
      row('queues', 'jobs', true, 0, MAX_STATS_QUEUES, { sub: STATS_QUEUE }),
      row('nodes', 'jobs', true, 0, MAX_STATS_NODES, { sub: STATS_NODE }),
    ]),
  ],
  [
    MsgType.SCHEDULE_PUT,
    table('SCHEDULE_PUT', [
      strReq('name', 1, MAX_SCHEDULE_NAME),
      strReq('function', 1, MAX_NAME),
      strReq('cron', 1, MAX_CRON),
      strOpt('zone', 1, MAX_ZONE),
      binOpt('args'),
      ...jobOptionRows(false),
      boolOpt('paused'),
    ]),
  ],
  [MsgType.SCHEDULE, table('SCHEDULE', SCHEDULE_ROWS)],
  [MsgType.SCHEDULE_GET, table('SCHEDULE_GET', SCHEDULE_REF)],
  [MsgType.SCHEDULE_PAUSE, table('SCHEDULE_PAUSE', SCHEDULE_REF)],
  [MsgType.SCHEDULE_RESUME, table('SCHEDULE_RESUME', SCHEDULE_REF)],
  [MsgType.SCHEDULE_DELETE, table('SCHEDULE_DELETE', SCHEDULE_REF)],
  [MsgType.SCHEDULE_LIST, table('SCHEDULE_LIST', [uintOpt('limit', 1, MAX_LIST), strOpt('after', 1, MAX_SCHEDULE_NAME)])],
  [
    MsgType.SCHEDULES,
    table('SCHEDULES', [row('schedules', 'jobs', true, 0, MAX_LIST, { sub: SCHEDULE_IN_SCHEDULES }), strOpt('next', 1, MAX_SCHEDULE_NAME)]),
  ],
]);

// ---- Typed views of the fields (wire names, as in §5) ----

export interface HelloFields {
  version: Int;
  client: string;
  pid?: Int;
  storage?: string;
}
export interface WelcomeFields {
  version: Int;
  node: string;
  server: string;
  max_frame: Int;
  storage: string;
}
export interface ErrorFields {
  code: string;
  message: string;
  retryable?: boolean;
}
export type EmptyFields = Record<string, never>;
export interface EnqueueFields {
  name: string;
  args?: Uint8Array;
  key?: string;
  max_attempts?: Int;
  backoff?: Backoff;
  initial_delay_ms?: Int;
  max_delay_ms?: Int;
  jitter?: number;
  timeout_ms?: Int;
  priority?: Int;
  run_at?: Int;
  delay_ms?: Int;
  parent?: Int;
  step?: Int;
}
export interface EnqueuedFields {
  job: Int;
  deduplicated: boolean;
}
export interface RegisterFields {
  names: string[];
  concurrency: Int;
}
export interface DispatchFields {
  job: Int;
  name: string;
  args: Uint8Array;
  attempt: Int;
  max_attempts: Int;
  deadline: Int;
}
export interface AckFields {
  job: Int;
  attempt: Int;
  ok: boolean;
  result?: Uint8Array;
  error?: string;
  retryable?: boolean;
  /** true: hand the attempt back unfinished, not counted (then ok is false and nothing else is set) */
  release?: boolean;
}
export interface AbandonFields {
  job: Int;
  attempt: Int;
  reason: AbandonReason;
}
export interface AwaitFields {
  job: Int;
  timeout_ms?: Int;
  waiter?: Int;
  waiter_attempt?: Int;
}
export interface CompletedFields {
  job: Int;
  status: FinalStatus;
  attempt: Int;
  result?: Uint8Array;
  error?: string;
}
export interface JobRefFields {
  job: Int;
}
export interface JobFields {
  id: Int;
  name: string;
  status: JobStatus;
  attempt: Int;
  max_attempts: Int;
  args: Uint8Array;
  result?: Uint8Array;
  error?: string;
  key?: string;
  priority: Int;
  created_at: Int;
  run_at: Int;
  started_at?: Int;
  finished_at?: Int;
  parent?: Int;
  step?: Int;
}
export interface ListFields {
  status?: JobStatus;
  name?: string;
  limit?: Int;
  after?: Int;
  parent?: Int;
}
export interface JobsFields {
  jobs: JobFields[];
  next?: Int;
}
/** The job options a schedule gives every run (optional in SCHEDULE_PUT, filled in in SCHEDULE). */
export interface ScheduleOptionFields {
  max_attempts?: Int;
  backoff?: Backoff;
  initial_delay_ms?: Int;
  max_delay_ms?: Int;
  jitter?: number;
  timeout_ms?: Int;
  priority?: Int;
}
export interface SchedulePutFields extends ScheduleOptionFields {
  name: string;
  function: string;
  cron: string;
  zone?: string;
  args?: Uint8Array;
  paused?: boolean;
}
export interface ScheduleFields extends Required<ScheduleOptionFields> {
  name: string;
  function: string;
  cron: string;
  zone: string;
  args: Uint8Array;
  paused: boolean;
  next_run_at?: Int;
  last_run_at?: Int;
  created_at: Int;
}
export interface ScheduleRefFields {
  name: string;
}
export interface ScheduleListFields {
  limit?: Int;
  after?: string;
}
export interface SchedulesFields {
  schedules: ScheduleFields[];
  next?: string;
}

export interface StatsFunctionFields {
  name: string;
  enqueued: Int;
  deduplicated: Int;
  started: Int;
  succeeded: Int;
  failed: Int;
  dead: Int;
  timed_out: Int;
  reclaimed: Int;
  duration_count: Int;
  duration_sum_us: Int;
}
export interface StatsQueueFields {
  name: string;
  pending: Int;
  running: Int;
}
export interface StatsNodeFields {
  id: string;
  host: string;
  pid: Int;
  heartbeat_age_ms: Int;
  started_at: Int;
}
export interface StatisticsFields {
  server: string;
  node: string;
  pid: Int;
  started_at: Int;
  uptime_ms: Int;
  connections: Int;
  workers: Int;
  running: Int;
  storage: string;
  schema: string;
  storage_up: boolean;
  counted_at?: Int;
  count_error?: string;
  truncated?: boolean;
  functions: StatsFunctionFields[];
  queues: StatsQueueFields[];
  nodes: StatsNodeFields[];
}

/** The fields of each message type. */
export interface FieldsOf {
  HELLO: HelloFields;
  WELCOME: WelcomeFields;
  ERROR: ErrorFields;
  PING: EmptyFields;
  PONG: EmptyFields;
  OK: EmptyFields;
  ENQUEUE: EnqueueFields;
  ENQUEUED: EnqueuedFields;
  REGISTER: RegisterFields;
  DISPATCH: DispatchFields;
  ACK: AckFields;
  ABANDON: AbandonFields;
  AWAIT: AwaitFields;
  COMPLETED: CompletedFields;
  GET: JobRefFields;
  JOB: JobFields;
  CANCEL: JobRefFields;
  RETRY: JobRefFields;
  LIST: ListFields;
  JOBS: JobsFields;
  STATS: EmptyFields;
  STATISTICS: StatisticsFields;
  SCHEDULE_PUT: SchedulePutFields;
  SCHEDULE: ScheduleFields;
  SCHEDULE_GET: ScheduleRefFields;
  SCHEDULE_PAUSE: ScheduleRefFields;
  SCHEDULE_RESUME: ScheduleRefFields;
  SCHEDULE_DELETE: ScheduleRefFields;
  SCHEDULE_LIST: ScheduleListFields;
  SCHEDULES: SchedulesFields;
}

/** One message: its type name, request id and fields. */
export type Message = {
  [K in MsgTypeName]: { type: K; requestId: number; fields: FieldsOf[K] };
}[MsgTypeName];

/** The message of type K. */
export type MessageOf<K extends MsgTypeName> = Extract<Message, { type: K }>;
