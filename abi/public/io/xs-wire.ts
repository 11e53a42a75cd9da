/**
 * io/xs_wire.h: the XenStore wire protocol (message header, message types, error names) and the
 * XenStore ring page shared between a domain and xenstored.
 */
import { array, char, struct, typedef, uint32_t } from '../../layout/schema.js';

// enum xsd_sockmsg_type.
export const XS_CONTROL = 0;
export const XS_DEBUG = 0;
export const XS_DIRECTORY = 1;
export const XS_READ = 2;
export const XS_GET_PERMS = 3;
export const XS_WATCH = 4;
export const XS_UNWATCH = 5;
export const XS_TRANSACTION_START = 6;
export const XS_TRANSACTION_END = 7;
export const XS_INTRODUCE = 8;
export const XS_RELEASE = 9;
export const XS_GET_DOMAIN_PATH = 10;
export const XS_WRITE = 11;
export const XS_MKDIR = 12;
export const XS_RM = 13;
export const XS_SET_PERMS = 14;
export const XS_WATCH_EVENT = 15;
export const XS_ERROR = 16;
export const XS_IS_DOMAIN_INTRODUCED = 17;
export const XS_RESUME = 18;
export const XS_SET_TARGET = 19;
export const XS_RESET_WATCHES = XS_SET_TARGET + 2;
export const XS_DIRECTORY_PART = 22;
export const XS_TYPE_COUNT = 23;
export const XS_INVALID = 0xffff;

/** Write-mode words of the old XS_WRITE flavour (strings, not numbers). */
export const XS_WRITE_NONE = 'NONE';
export const XS_WRITE_CREATE = 'CREATE';
export const XS_WRITE_CREATE_EXCL = 'CREATE|EXCL';

/**
 * The errno names xenstored may answer with in an XS_ERROR message, in the header's order (the
 * payload is the name, e.g. "ENOENT"; the numbers are the host's and not part of the protocol).
 */
export const XSD_ERRORS: readonly string[] = [
  'EINVAL',
  'EACCES',
  'EEXIST',
  'EISDIR',
  'ENOENT',
  'ENOMEM',
  'ENOSPC',
  'EIO',
  'ENOTEMPTY',
  'ENOSYS',
  'EROFS',
  'EBUSY',
  'EAGAIN',
  'EISCONN',
  'E2BIG',
  'EPERM',
];

/** Every XenStore message starts with this header; `len` payload bytes follow. */
export const xsd_sockmsg = struct('struct xsd_sockmsg', {
  type: uint32_t,
  req_id: uint32_t,
  tx_id: uint32_t,
  len: uint32_t,
});

// enum xs_watch_type: the NUL-separated fields of an XS_WATCH_EVENT payload.
export const XS_WATCH_PATH = 0;
export const XS_WATCH_TOKEN = 1;

export const XENSTORE_RING_SIZE = 1024;
export const XENSTORE_RING_IDX = typedef('XENSTORE_RING_IDX', uint32_t);

/**
 * The XenStore page: request ring (guest to xenstored) and response ring of 1 KiB each, their
 * free-running indices, and the reconnection/error handshake words.
 */
export const xenstore_domain_interface = struct('struct xenstore_domain_interface', {
  req: array(char, XENSTORE_RING_SIZE),
  rsp: array(char, XENSTORE_RING_SIZE),
  req_cons: XENSTORE_RING_IDX,
  req_prod: XENSTORE_RING_IDX,
  rsp_cons: XENSTORE_RING_IDX,
  rsp_prod: XENSTORE_RING_IDX,
  server_features: uint32_t,
  connection: uint32_t,
  error: uint32_t,
});

export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;
export const XENSTORE_SERVER_FEATURE_RECONNECTION = 1;
export const XENSTORE_SERVER_FEATURE_ERROR = 2;
export const XENSTORE_CONNECTED = 0;
export const XENSTORE_RECONNECT = 1;
export const XENSTORE_ERROR_NONE = 0;
export const XENSTORE_ERROR_COMM = 1;
export const XENSTORE_ERROR_RINGIDX = 2;
export const XENSTORE_ERROR_PROTO = 3;
