// libc headers first: event-config.h defines _GNU_SOURCE, which otherwise clashes with Dispatch's fd_set.
#include <sys/select.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
