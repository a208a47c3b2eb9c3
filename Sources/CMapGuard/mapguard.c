#define _GNU_SOURCE
#include "cmapguard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { SLOTS = 256 };

/* A slot is live when its base is non-zero. Writers (register/unregister) take the slot with a
 * compare-exchange on `state`; the handler reads base and size only when state is LIVE. */
enum { FREE = 0, CLAIMED = 1, LIVE = 2 };

typedef struct {
    _Atomic int state;
    _Atomic uintptr_t base;
    _Atomic size_t size;
    _Atomic int faulted;
} slot_t;

static slot_t slots[SLOTS];
static struct sigaction previous;          /* the SIGBUS action before ours; read by the handler */
static _Atomic int have_previous = 0;
static _Atomic long page_size = 0;
static atomic_flag installing = ATOMIC_FLAG_INIT;   /* one install at a time */

static int install_over(const struct sigaction *current);

static void chain(int number, siginfo_t *info, void *context) {
    if (atomic_load(&have_previous)) {
        if (previous.sa_flags & SA_SIGINFO) {
            if (previous.sa_sigaction) { previous.sa_sigaction(number, info, context); return; }
        } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN && previous.sa_handler) {
            previous.sa_handler(number);
            return;
        }
    }
    /* Default (or ignored, which for a fault would loop): die of it when the access is tried again. */
    signal(number, SIG_DFL);
}

static void handler(int number, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    long page = atomic_load(&page_size);
    if (page > 0) {
        for (int i = 0; i < SLOTS; i++) {
            if (atomic_load(&slots[i].state) != LIVE) continue;
            uintptr_t base = atomic_load(&slots[i].base);
            size_t size = atomic_load(&slots[i].size);
            if (address < base || address - base >= size) continue;
            void *start = (void *)(address & ~(uintptr_t)(page - 1));
            void *zero = mmap(start, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            if (zero == MAP_FAILED) break;
            atomic_store(&slots[i].faulted, 1);
            return;  /* the load runs again and reads the zero page */
        }
    }
    chain(number, info, context);
}

int ms_mapguard_install(void) {
    while (atomic_flag_test_and_set(&installing)) { /* another thread is installing: a few instructions */ }
    int result = 0;
    struct sigaction current;
    if (sigaction(SIGBUS, NULL, &current) != 0) {
        result = -1;
    } else if (!((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == handler)) {
        result = install_over(&current);
    }
    atomic_flag_clear(&installing);
    return result;
}

static int install_over(const struct sigaction *current) {
    if (atomic_load(&page_size) == 0) atomic_store(&page_size, sysconf(_SC_PAGESIZE));
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = handler;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    /* Block SIGBUS while `previous` changes, so this thread's handler never reads it half written. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGBUS);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    previous = *current;
    atomic_store(&have_previous, 1);
    int result = sigaction(SIGBUS, &action, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return result == 0 ? 0 : -1;
}

int ms_mapguard_register(const void *base, size_t size) {
    if (base == NULL || size == 0) return -1;
    ms_mapguard_install();
    for (int i = 0; i < SLOTS; i++) {
        int expected = FREE;
        if (!atomic_compare_exchange_strong(&slots[i].state, &expected, CLAIMED)) continue;
        atomic_store(&slots[i].base, (uintptr_t)base);
        atomic_store(&slots[i].size, size);
        atomic_store(&slots[i].faulted, 0);
        atomic_store(&slots[i].state, LIVE);
        return i;
    }
    return -1;
}

void ms_mapguard_unregister(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    atomic_store(&slots[slot].state, CLAIMED);
    atomic_store(&slots[slot].base, 0);
    atomic_store(&slots[slot].size, 0);
    atomic_store(&slots[slot].state, FREE);
}

int ms_mapguard_faulted(int slot) {
    if (slot < 0 || slot >= SLOTS) return 0;
    return atomic_load(&slots[slot].faulted);
}
