// A doubly-linked list threaded through T::prev_ and T::next_ (members of T, which the list does
// not own), so an element leaves it in O(1): a worker's connections and background fetches.
// No allocation. Threading: the owner's (a worker's loop thread).
#pragma once

#include <cstddef>

namespace fc::common {

template <typename T> struct IntrusiveList {
    T *head = nullptr;
    std::size_t size = 0;
    void push(T *c) {
        c->prev_ = nullptr;
        c->next_ = head;
        if (head)
            head->prev_ = c;
        head = c;
        ++size;
    }
    void remove(T *c) {
        (c->prev_ ? c->prev_->next_ : head) = c->next_;
        if (c->next_)
            c->next_->prev_ = c->prev_;
        c->prev_ = c->next_ = nullptr;
        --size;
    }
};

} // namespace fc::common
